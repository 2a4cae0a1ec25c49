import { watch, type Ref } from "vue";
import { useSetupStore } from "../../stores/setup";

/**
 * The life of a set-up dialog: each time it opens, the last problem is
 * cleared and reset fills the form; save sends, and on success closes the
 * dialog and hands on what was saved.
 */
export function useSetupDialog<T>(open: Ref<boolean>, reset: () => void, saved: (v: T) => void) {
  const setup = useSetupStore();
  watch(
    open,
    (isOpen) => {
      if (!isOpen) return;
      setup.clearSaveProblem();
      reset();
    },
    { immediate: true },
  );
  async function save(sending: Promise<T | null>): Promise<void> {
    const v = await sending;
    if (v) {
      open.value = false;
      saved(v);
    }
  }
  return { setup, save };
}
