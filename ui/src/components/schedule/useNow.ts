import { onBeforeUnmount, onMounted, ref } from "vue";

/** The current time, updated every everyMs while the component is mounted (waiting times, the now line). */
export function useNow(everyMs = 15_000) {
  const now = ref(new Date());
  let timer: ReturnType<typeof setInterval> | undefined;
  onMounted(() => {
    timer = setInterval(() => (now.value = new Date()), everyMs);
  });
  onBeforeUnmount(() => clearInterval(timer));
  return now;
}
