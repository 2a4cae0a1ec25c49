import { parseDicom, type DataSet } from "dicom-parser";

/**
 * Reading DICOM Part 10 files in the browser: uncompressed monochrome pixel
 * data becomes grey levels on a canvas through a window (width and centre).
 * Compressed transfer syntaxes are not decoded here: the file can be
 * downloaded and opened in a DICOM viewer. This module is fetched only when
 * a DICOM image is opened.
 */

/** Transfer syntaxes whose pixel data is stored as is, little-endian. */
const uncompressed = new Set(["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]);

/** The first frame of a DICOM image, in modality values (rescale applied). */
export interface DicomFrame {
  width: number;
  height: number;
  values: Float32Array;
  min: number;
  max: number;
  /** The window the file suggests, else one over the whole range. */
  center: number;
  windowWidth: number;
  /** MONOCHROME1: higher values are darker. */
  inverted: boolean;
}

/** What reading a DICOM file came to. */
export type DicomResult =
  | { ok: true; frame: DicomFrame }
  | { ok: false; reason: "compressed"; syntax: string }
  | { ok: false; reason: "unsupported"; what: string }
  | { ok: false; reason: "unreadable" };

function num(ds: DataSet, tag: string, fallback: number): number {
  const v = ds.floatString(tag);
  return v === undefined || Number.isNaN(v) ? fallback : v;
}

/** Reads the first frame of a DICOM file's bytes. */
export function readDicom(bytes: ArrayBuffer): DicomResult {
  let ds: DataSet;
  try {
    ds = parseDicom(new Uint8Array(bytes));
  } catch {
    return { ok: false, reason: "unreadable" };
  }
  const syntax = ds.string("x00020010") ?? "";
  if (!uncompressed.has(syntax)) return { ok: false, reason: "compressed", syntax: syntax || "?" };
  const photometric = (ds.string("x00280004") ?? "").trim();
  const samples = ds.uint16("x00280002") ?? 1;
  if (samples !== 1 || (photometric !== "MONOCHROME1" && photometric !== "MONOCHROME2")) {
    return { ok: false, reason: "unsupported", what: photometric || `${samples}` };
  }
  const width = ds.uint16("x00280011") ?? 0;
  const height = ds.uint16("x00280010") ?? 0;
  const bits = ds.uint16("x00280100") ?? 16;
  const signed = ds.uint16("x00280103") === 1;
  const pixel = ds.elements.x7fe00010;
  const n = width * height;
  if (!pixel || n === 0 || (bits !== 8 && bits !== 16) || pixel.length < (n * bits) / 8) {
    return pixel && (bits === 8 || bits === 16) ? { ok: false, reason: "unreadable" } : { ok: false, reason: "unsupported", what: `${bits} bit` };
  }
  const slope = num(ds, "x00281053", 1);
  const intercept = num(ds, "x00281052", 0);
  const buf = ds.byteArray.buffer;
  const offset = ds.byteArray.byteOffset + pixel.dataOffset;
  const view = new DataView(buf, offset, (n * bits) / 8);
  const values = new Float32Array(n);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const raw = bits === 8 ? (signed ? view.getInt8(i) : view.getUint8(i)) : signed ? view.getInt16(i * 2, true) : view.getUint16(i * 2, true);
    const v = raw * slope + intercept;
    values[i] = v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const windowWidth = num(ds, "x00281051", Math.max(1, max - min));
  const center = num(ds, "x00281050", (max + min) / 2);
  return { ok: true, frame: { width, height, values, min, max, center, windowWidth, inverted: photometric === "MONOCHROME1" } };
}

/** Grey levels of frame through the window (center, width), as RGBA pixels for a canvas. */
export function windowed(frame: DicomFrame, center: number, width: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(frame.width * frame.height * 4);
  const w = Math.max(1, width);
  const low = center - w / 2;
  for (let i = 0; i < frame.values.length; i++) {
    let g = ((frame.values[i]! - low) / w) * 255;
    if (frame.inverted) g = 255 - g;
    const j = i * 4;
    out[j] = out[j + 1] = out[j + 2] = g;
    out[j + 3] = 255;
  }
  return out;
}
