import { onBeforeUnmount, onMounted, type Ref } from "vue";
import { onBeforeRouteLeave } from "vue-router";

/**
 * Keeps a half-filled form from being lost by accident: leaving for another
 * screen asks first (confirm says the words), and so does closing or
 * reloading the tab (the browser words that itself), while dirty holds.
 */
export function useUnsavedGuard(dirty: Ref<boolean>, confirm: () => boolean) {
  onBeforeRouteLeave(() => (dirty.value ? confirm() : true));
  const onUnload = (e: BeforeUnloadEvent) => {
    if (!dirty.value) return;
    e.preventDefault();
    e.returnValue = "";
  };
  onMounted(() => window.addEventListener("beforeunload", onUnload));
  onBeforeUnmount(() => window.removeEventListener("beforeunload", onUnload));
}
