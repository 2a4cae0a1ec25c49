import type { ApiReferenceConfiguration } from "@scalar/api-reference";
// The reference's own prebuilt bundle (with its own copy of Vue), served as
// a file of the build: the app's chunks stay as they are, so no page but
// /docs carries any of it. The package does not export the path, hence the
// relative one.
import scalarBundle from "../../node_modules/@scalar/api-reference/dist/browser/standalone.js?url";

/** The reference's configuration, with the source options the bundle also reads. */
export type ScalarConfiguration = Partial<ApiReferenceConfiguration> & { agent?: { disabled?: boolean } };

/** What the bundle puts on window: one reference per call, until destroyed. */
interface ScalarGlobal {
  createApiReference(element: Element, configuration: ScalarConfiguration): { destroy(): void };
}

declare global {
  interface Window {
    Scalar?: ScalarGlobal;
  }
}

let loading: Promise<ScalarGlobal> | null = null;

/**
 * Loads the reference's bundle once per tab; later calls get the same
 * promise. A failed load (offline) is forgotten, so that a retry fetches
 * it again.
 */
export function loadScalar(): Promise<ScalarGlobal> {
  loading ??= new Promise<ScalarGlobal>((resolve, reject) => {
    const script = document.createElement("script");
    script.src = scalarBundle;
    script.onload = () => (window.Scalar ? resolve(window.Scalar) : reject(new Error("the reference's bundle defined nothing")));
    script.onerror = () => {
      script.remove();
      reject(new Error("the reference's bundle did not load"));
    };
    document.head.append(script);
  }).catch((err: unknown) => {
    loading = null;
    throw err;
  });
  return loading;
}
