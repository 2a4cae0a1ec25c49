import { readonly, ref } from "vue";

/** Whether the browser says it is connected; one listener pair for the whole app. */
const online = ref(typeof navigator === "undefined" ? true : navigator.onLine !== false);
if (typeof window !== "undefined") {
  window.addEventListener("online", () => (online.value = true));
  window.addEventListener("offline", () => (online.value = false));
}

/** The browser's connection state, reactive: false from the moment the network goes, true when it is back. */
export function useOnline() {
  return readonly(online);
}
