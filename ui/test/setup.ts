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
