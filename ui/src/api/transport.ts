import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { InjectionKey } from "vue";
import { createTraceInterceptor } from "./trace";

/** The one transport of the app, provided at the root and injected by stores. */
export const transportKey: InjectionKey<Transport> = Symbol("transport");

/** The API's base URL: the page's own origin unless the build says otherwise. */
export function apiBaseUrl(): string {
  return import.meta.env.VITE_API_BASE_URL ?? window.location.origin;
}

/**
 * Creates the app's transport. Reads marked NO_SIDE_EFFECTS in the schema go
 * out as HTTP GET so the browser and proxies can cache them; cookies are sent
 * so that the session survives a reload; every call carries the trace of the
 * user action that caused it (createTraceInterceptor).
 */
export function createTransport(baseUrl: string, interceptors: Interceptor[] = []): Transport {
  return createConnectTransport({
    baseUrl,
    useHttpGet: true,
    interceptors: [createTraceInterceptor(), ...interceptors],
    fetch: (input, init) => globalThis.fetch(input, { ...init, credentials: "include" }),
  });
}
