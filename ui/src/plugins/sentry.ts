import type { App } from "vue";
import {
  dedupeIntegration,
  globalHandlersIntegration,
  init,
  linkedErrorsIntegration,
  vueIntegration,
  type BrowserOptions,
  type ErrorEvent,
} from "@sentry/vue";
import type { ErrorReportSettings } from "./errorReports";

/**
 * The shapes of personal data an error's text might quote, with what each
 * becomes (as the server's reports do): a resident registration number, a
 * Korean telephone number, an e-mail address, and any Korean text (the
 * app's own messages to developers are English; Korean came from a person
 * or from the screen, which shows patients).
 */
const shapes: [RegExp, string][] = [
  [/\b\d{6}\s*-?\s*\d{7}\b/g, "[rrn]"],
  [/\b0\d{1,2}[-. )]?\d{3,4}[-. ]?\d{4}\b|\+82[-. ]?\d{1,2}[-. ]?\d{3,4}[-. ]?\d{4}\b/g, "[phone]"],
  [/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+/g, "[email]"],
  [/[\p{Script=Hangul}]+(\s+[\p{Script=Hangul}]+)*/gu, "[text]"],
];

/** text without anything shaped like personal data. */
export function scrub(text: string): string {
  return shapes.reduce((t, [re, to]) => t.replace(re, to), text);
}

/** Every string in v scrubbed, at any depth. */
function scrubDeep<T>(v: T): T {
  if (typeof v === "string") return scrub(v) as T;
  if (Array.isArray(v)) return v.map(scrubDeep) as T;
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrubDeep(x)])) as T;
  }
  return v;
}

/**
 * The last look at every report: what could name a person (the request and
 * its address, which names a patient's page, the user, breadcrumbs, extra
 * data) is dropped, and the remaining text scrubbed. Stack frames keep
 * their file names, the app's assets.
 */
export function scrubEvent(event: ErrorEvent): ErrorEvent {
  delete event.request;
  delete event.user;
  delete event.breadcrumbs;
  delete event.extra;
  if (event.message) event.message = scrub(event.message);
  if (event.tags) event.tags = scrubDeep(event.tags);
  if (event.contexts) event.contexts = scrubDeep(event.contexts);
  for (const ex of event.exception?.values ?? []) {
    if (ex.value) ex.value = scrub(ex.value);
    for (const f of ex.stacktrace?.frames ?? []) {
      delete f.vars;
      if (f.context_line) f.context_line = scrub(f.context_line);
      f.pre_context = f.pre_context?.map(scrub);
      f.post_context = f.post_context?.map(scrub);
    }
  }
  return event;
}

/**
 * Starts Sentry's Vue SDK for app with only what reports need: uncaught
 * errors and rejections, Vue's errors (without component props), linked
 * causes; no breadcrumbs, no page address, no user, no tracing.
 */
export function startSentry(app: App, settings: ErrorReportSettings, transport?: BrowserOptions["transport"]): void {
  init({
    dsn: settings.dsn,
    release: settings.release || undefined,
    environment: settings.environment || undefined,
    // Nothing of the person, the request or the page's state is collected.
    dataCollection: {
      userInfo: false,
      cookies: false,
      httpHeaders: false,
      httpBodies: [],
      urlQueryParams: false,
      graphQL: { document: false, variables: false },
      genAI: { inputs: false, outputs: false },
      mcp: { inputs: false, outputs: false },
      databaseQueryData: false,
      queues: false,
      stackFrameVariables: false,
    },
    defaultIntegrations: false,
    integrations: [globalHandlersIntegration(), linkedErrorsIntegration(), dedupeIntegration(), vueIntegration({ app, attachProps: false })],
    maxBreadcrumbs: 0,
    beforeBreadcrumb: () => null,
    beforeSend: scrubEvent,
    ...(transport ? { transport } : {}),
  });
}
