// jsdom lacks what Vuetify measures layouts with.
class ResizeObserverStub {
  observe(): void {}
  unobserve(): void {}
  disconnect(): void {}
}
globalThis.ResizeObserver ??= ResizeObserverStub as unknown as typeof ResizeObserver;

// Overlays (snackbars, menus) position themselves against the visual viewport.
if (!("visualViewport" in globalThis) || !globalThis.visualViewport) {
  Object.defineProperty(globalThis, "visualViewport", {
    value: Object.assign(new EventTarget(), { width: 1280, height: 800, offsetLeft: 0, offsetTop: 0, scale: 1 }),
  });
}

// Views are mounted with every message of both languages, as the app has
// them once signed in and switched.
import { createAppI18n, loadMessages } from "../src/i18n";
const i18n = createAppI18n("ko");
await loadMessages(i18n.global, "en", true);
await loadMessages(i18n.global, "ko", true);

// What one test leaves in the tab's session storage (a registration draft)
// must not reach the next.
import { afterEach } from "vitest";
afterEach(() => sessionStorage.clear());
