import type { App } from "vue";

/** The browser's error-report settings the server writes into the page. */
export interface ErrorReportSettings {
  dsn: string;
  release: string;
  environment: string;
}

/** The page's meta element that carries the settings (ui.ErrorReportsMeta on the server). */
export const ERROR_REPORTS_META = "molar-error-reports";

/** The settings in doc, or null when the server sends no error reports' settings. */
export function errorReportSettings(doc: Document = document): ErrorReportSettings | null {
  const content = doc.querySelector(`meta[name="${ERROR_REPORTS_META}"]`)?.getAttribute("content");
  if (!content) return null;
  try {
    const s = JSON.parse(content) as Partial<ErrorReportSettings>;
    return typeof s.dsn === "string" && s.dsn !== ""
      ? { dsn: s.dsn, release: s.release ?? "", environment: s.environment ?? "" }
      : null;
  } catch {
    return null;
  }
}

/**
 * Starts the web app's error reports, once, when the page carries their
 * settings: the reporting code is its own chunk, loaded then and only then,
 * never with the sign-in page. Resolves to whether reports are on.
 */
export function createErrorReports(app: App, doc: Document = document): () => Promise<boolean> {
  let started: Promise<boolean> | null = null;
  return () => {
    if (started) return started;
    const settings = errorReportSettings(doc);
    started = settings
      ? import("./sentry").then(
          (m) => (m.startSentry(app, settings), true),
          () => false,
        )
      : Promise.resolve(false);
    return started;
  };
}
