import { useI18n } from "vue-i18n";
import { ImageKind, ThumbnailStatus } from "../../gen/molar/v1/images_pb";
import { useProblemText } from "../../composables/useProblemText";
import { permanentLower, permanentUpper, primaryLower, primaryUpper } from "../chart/teeth";
import type { UploadRefusal } from "./useImageUpload";

/** The kinds a user can choose, in the order dentists think of them. */
export const imageKinds = [
  ImageKind.PANORAMIC,
  ImageKind.PERIAPICAL,
  ImageKind.BITEWING,
  ImageKind.CBCT,
  ImageKind.INTRAORAL_PHOTO,
  ImageKind.EXTRAORAL_PHOTO,
  ImageKind.DOCUMENT,
] as const;

/** Every FDI tooth number, permanent and primary. */
export const allTeeth = new Set([...permanentUpper, ...permanentLower, ...primaryUpper, ...primaryLower]);

/** Whether n is an FDI tooth number. */
export function isTooth(n: number): boolean {
  return allTeeth.has(n);
}

/** "36, 37 46" → the teeth and what is not a tooth number. */
export function parseTeeth(text: string): { teeth: number[]; invalid: string[] } {
  const teeth: number[] = [];
  const invalid: string[] = [];
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const n = /^\d{2}$/.test(part) ? Number(part) : NaN;
    if (isTooth(n)) {
      if (!teeth.includes(n)) teeth.push(n);
    } else invalid.push(part);
  }
  return { teeth, invalid };
}

/** "1.5 MB" for a byte count. */
export function formatBytes(n: number | bigint): string {
  const v = Number(n);
  if (v < 1024) return `${v} B`;
  const units = ["KB", "MB", "GB"];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x >= 10 ? Math.round(x) : x.toFixed(1)} ${units[i]}`;
}

/** Whether an image is a DICOM file, shown through the DICOM reader with window/level. */
export function isDicom(mediaType: string): boolean {
  return mediaType === "application/dicom";
}

/** Words for images: kinds, thumbnail states, days, upload refusals. */
export function useImageWords() {
  const { t, te, locale } = useI18n();
  const text = useProblemText();

  function kind(k: ImageKind): string {
    return t(`images.kind.IMAGE_KIND_${ImageKind[k] ?? "UNSPECIFIED"}`);
  }

  function status(s: ThumbnailStatus): string {
    return t(`images.status.THUMBNAIL_STATUS_${ThumbnailStatus[s] ?? "UNSPECIFIED"}`);
  }

  /** "2025. 3. 4. (화)" for "2025-03-04", in the current language. */
  function day(date: string): string {
    const [y, m, d] = date.split("-").map(Number);
    if (!y || !m || !d) return date;
    return new Intl.DateTimeFormat(locale.value, { year: "numeric", month: "short", day: "numeric", weekday: "short", timeZone: "UTC" }).format(
      new Date(Date.UTC(y, m - 1, d)),
    );
  }

  /** Each reason an upload was refused, in the user's language. */
  function refusal(r: UploadRefusal, maxBytes: number): string[] {
    const lines = r.rules.map((rule) => {
      const key = `images.upload.rules.${rule.replace(/\./g, "_")}`;
      return te(key) ? t(key, { max: formatBytes(maxBytes) }) : text.rule(rule, r.message || rule);
    });
    if (lines.length > 0) return [...new Set(lines)];
    if (r.code && te(`errors.${r.code}`)) return [t(`errors.${r.code}`)];
    return [r.message ? t("images.upload.refused", { message: r.message }) : t("errors.unknown")];
  }

  return { t, kind, status, day, refusal };
}
