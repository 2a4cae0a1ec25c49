import { describe, expect, it } from "vitest";
import { readDicom, windowed, type DicomFrame } from "../src/components/images/dicom";

// Tiny DICOM Part 10 files written byte by byte: a 128-byte preamble, "DICM",
// the file meta group, then the image's data set in explicit VR little endian.

const explicitLittle = "1.2.840.10008.1.2.1";
const jpegBaseline = "1.2.840.10008.1.2.4.50";

/** VRs whose length takes four bytes after two reserved ones. */
const longVRs = new Set(["OB", "OW", "OF", "SQ", "UT", "UN"]);

/** Bytes of a string value, padded to an even length (UI with NUL, text with a space). */
function text(vr: string, s: string): Uint8Array {
  const padded = s.length % 2 ? s + (vr === "UI" ? "\0" : " ") : s;
  return new TextEncoder().encode(padded);
}

function u16(...values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setUint16(i * 2, x, true));
  return b;
}

function u32(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x, true);
  return b;
}

/** One explicit VR little endian element. */
function element(group: number, elem: number, vr: string, value: Uint8Array): Uint8Array {
  const head = longVRs.has(vr)
    ? [...u16(group, elem), ...new TextEncoder().encode(vr), 0, 0, ...u32(value.length)]
    : [...u16(group, elem), ...new TextEncoder().encode(vr), ...u16(value.length)];
  return Uint8Array.from([...head, ...value]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The preamble, "DICM" and the meta group naming the transfer syntax. */
function part10(syntax: string, dataSet: Uint8Array[]): ArrayBuffer {
  const meta = concat([element(0x0002, 0x0001, "OB", Uint8Array.of(0, 1)), element(0x0002, 0x0010, "UI", text("UI", syntax))]);
  const bytes = concat([new Uint8Array(128), new TextEncoder().encode("DICM"), element(0x0002, 0x0000, "UL", u32(meta.length)), meta, ...dataSet]);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

interface Picture {
  photometric?: string;
  width: number;
  height: number;
  pixels: number[];
  center?: string;
  windowWidth?: string;
  syntax?: string;
}

/** A 16-bit unsigned monochrome image, uncompressed unless syntax says otherwise. */
function dicom(p: Picture): ArrayBuffer {
  const syntax = p.syntax ?? explicitLittle;
  const pixelData =
    syntax === explicitLittle
      ? element(0x7fe0, 0x0010, "OW", u16(...p.pixels))
      : // Encapsulated: undefined length, an empty offset table, one fragment, the delimiter.
        concat([
          Uint8Array.from([...u16(0x7fe0, 0x0010), ...new TextEncoder().encode("OB"), 0, 0, ...u32(0xffffffff)]),
          concat([u16(0xfffe, 0xe000), u32(0)]),
          concat([u16(0xfffe, 0xe000), u32(4), Uint8Array.of(0xff, 0xd8, 0xff, 0xd9)]),
          concat([u16(0xfffe, 0xe0dd), u32(0)]),
        ]);
  return part10(syntax, [
    element(0x0028, 0x0002, "US", u16(1)),
    element(0x0028, 0x0004, "CS", text("CS", p.photometric ?? "MONOCHROME2")),
    element(0x0028, 0x0010, "US", u16(p.height)),
    element(0x0028, 0x0011, "US", u16(p.width)),
    element(0x0028, 0x0100, "US", u16(16)),
    element(0x0028, 0x0101, "US", u16(12)),
    element(0x0028, 0x0102, "US", u16(11)),
    element(0x0028, 0x0103, "US", u16(0)),
    ...(p.center ? [element(0x0028, 0x1050, "DS", text("DS", p.center))] : []),
    ...(p.windowWidth ? [element(0x0028, 0x1051, "DS", text("DS", p.windowWidth))] : []),
    pixelData,
  ]);
}

/** The grey level drawn at (x, y), after checking the pixel is grey and opaque. */
function greyAt(rgba: Uint8ClampedArray, frame: DicomFrame, x: number, y: number): number {
  const i = (y * frame.width + x) * 4;
  expect(rgba[i + 1]).toBe(rgba[i]);
  expect(rgba[i + 2]).toBe(rgba[i]);
  expect(rgba[i + 3]).toBe(255);
  return rgba[i]!;
}

function frameOf(bytes: ArrayBuffer): DicomFrame {
  const r = readDicom(bytes);
  if (!r.ok) throw new Error(`not read: ${JSON.stringify(r)}`);
  return r.frame;
}

// 4 × 2 pixels. Through the file's window (centre 1020, width 2040, so 0 to
// 2040) a value v is drawn as v / 8: black, 50, 125, white; above the window
// stays white; 100, 200, and 1 for the value 8.
const pixels = [0, 400, 1000, 2040, 3000, 800, 1600, 8];
const greys = [
  [0, 50, 125, 255],
  [255, 100, 200, 1],
];

describe("reading DICOM", () => {
  it("draws MONOCHROME2 through the window the file gives", () => {
    const frame = frameOf(dicom({ width: 4, height: 2, pixels, center: "1020", windowWidth: "2040" }));
    expect(frame).toMatchObject({ width: 4, height: 2, center: 1020, windowWidth: 2040, min: 0, max: 3000, inverted: false });
    const rgba = windowed(frame, frame.center, frame.windowWidth);
    expect(rgba.length).toBe(4 * 2 * 4);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) expect(greyAt(rgba, frame, x, y), `(${x}, ${y})`).toBe(greys[y]![x]);
  });

  it("moves the grey levels with the window a user sets", () => {
    const frame = frameOf(dicom({ width: 4, height: 2, pixels, center: "1020", windowWidth: "2040" }));
    // Centre 1000, width 400: 800 and below is black, 1200 and above white, 1000 mid-grey.
    const rgba = windowed(frame, 1000, 400);
    expect(greyAt(rgba, frame, 1, 1)).toBe(0); // 800
    expect(greyAt(rgba, frame, 2, 0)).toBe(128); // 1000: 127.5, rounded to even
    expect(greyAt(rgba, frame, 2, 1)).toBe(255); // 1600
  });

  it("windows over the whole range when the file gives no window", () => {
    const frame = frameOf(dicom({ width: 4, height: 2, pixels }));
    expect(frame.center).toBe(1500);
    expect(frame.windowWidth).toBe(3000);
    const rgba = windowed(frame, frame.center, frame.windowWidth);
    expect(greyAt(rgba, frame, 0, 0)).toBe(0);
    expect(greyAt(rgba, frame, 0, 1)).toBe(255); // 3000, the brightest
  });

  it("inverts MONOCHROME1, where higher values are darker", () => {
    const frame = frameOf(dicom({ photometric: "MONOCHROME1", width: 4, height: 2, pixels, center: "1020", windowWidth: "2040" }));
    expect(frame.inverted).toBe(true);
    const rgba = windowed(frame, frame.center, frame.windowWidth);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) expect(greyAt(rgba, frame, x, y), `(${x}, ${y})`).toBe(255 - greys[y]![x]!);
  });

  it("says a compressed transfer syntax cannot be shown here, naming it", () => {
    expect(readDicom(dicom({ width: 4, height: 2, pixels, syntax: jpegBaseline }))).toEqual({ ok: false, reason: "compressed", syntax: jpegBaseline });
  });

  it("says colour images are not shown here, and that a file that is not DICOM cannot be read", () => {
    expect(readDicom(dicom({ photometric: "RGB", width: 4, height: 2, pixels }))).toEqual({ ok: false, reason: "unsupported", what: "RGB" });
    expect(readDicom(new TextEncoder().encode("not a dicom file").buffer as ArrayBuffer)).toEqual({ ok: false, reason: "unreadable" });
  });
});
