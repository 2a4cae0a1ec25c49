import { computed, reactive } from "vue";

/** Zoom limits and the step of one key press or wheel notch. */
export const zoomLimits = { min: 0.1, max: 10, step: 1.25 } as const;
/** How far one arrow key press pans, in screen pixels. */
const panStep = 40;

/** How one image is looked at: zoom, pan, and the adjustments dentists make to radiographs. */
export interface ViewState {
  zoom: number;
  x: number;
  y: number;
  /** Percent, 100 as taken. */
  brightness: number;
  /** Percent, 100 as taken. */
  contrast: number;
  invert: boolean;
}

/** The state of an untouched image. */
export function initialView(): ViewState {
  return { zoom: 1, x: 0, y: 0, brightness: 100, contrast: 100, invert: false };
}

/**
 * Zoom, pan, brightness, contrast and invert of an image pane, with the
 * keyboard (+/- zoom, arrows pan, I invert, 0 reset), the wheel and dragging.
 * The result is a CSS transform and filter, the same for an <img> and a
 * DICOM canvas.
 */
export function useViewTransform() {
  const view = reactive<ViewState>(initialView());

  function zoomBy(factor: number): void {
    const z = Math.min(zoomLimits.max, Math.max(zoomLimits.min, view.zoom * factor));
    // Keep the centre of the pane where it is.
    view.x *= z / view.zoom;
    view.y *= z / view.zoom;
    view.zoom = z;
  }

  function panBy(dx: number, dy: number): void {
    view.x += dx;
    view.y += dy;
  }

  function reset(): void {
    Object.assign(view, initialView());
  }

  /** Handles a key of the focused pane; says whether it was one of ours. */
  function onKey(ev: KeyboardEvent): boolean {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return false;
    switch (ev.key) {
      case "+":
      case "=":
        zoomBy(zoomLimits.step);
        break;
      case "-":
      case "_":
        zoomBy(1 / zoomLimits.step);
        break;
      case "0":
        reset();
        break;
      case "i":
      case "I":
        view.invert = !view.invert;
        break;
      case "ArrowLeft":
        panBy(panStep, 0);
        break;
      case "ArrowRight":
        panBy(-panStep, 0);
        break;
      case "ArrowUp":
        panBy(0, panStep);
        break;
      case "ArrowDown":
        panBy(0, -panStep);
        break;
      default:
        return false;
    }
    ev.preventDefault();
    return true;
  }

  function onWheel(ev: WheelEvent): void {
    ev.preventDefault();
    zoomBy(ev.deltaY < 0 ? zoomLimits.step : 1 / zoomLimits.step);
  }

  let drag: { id: number; x: number; y: number } | null = null;
  function onPointerDown(ev: PointerEvent): void {
    drag = { id: ev.pointerId, x: ev.clientX, y: ev.clientY };
    (ev.currentTarget as Element | null)?.setPointerCapture?.(ev.pointerId);
  }
  function onPointerMove(ev: PointerEvent): void {
    if (!drag || drag.id !== ev.pointerId) return;
    panBy(ev.clientX - drag.x, ev.clientY - drag.y);
    drag = { id: ev.pointerId, x: ev.clientX, y: ev.clientY };
  }
  function onPointerUp(): void {
    drag = null;
  }

  const style = computed(() => ({
    transform: `translate(${view.x}px, ${view.y}px) scale(${view.zoom})`,
    filter: `brightness(${view.brightness}%) contrast(${view.contrast}%)${view.invert ? " invert(1)" : ""}`,
  }));

  return { view, style, zoomBy, panBy, reset, onKey, onWheel, onPointerDown, onPointerMove, onPointerUp };
}

/** One pane's view controls. */
export type ViewTransform = ReturnType<typeof useViewTransform>;
