import { createApp, type Component } from "vue";
import { createPinia, setActivePinia, type Pinia } from "pinia";
import { mount } from "@vue/test-utils";
import type { Transport } from "@connectrpc/connect";
import { transportKey } from "../src/api/transport";
import { createAppI18n, type Locale } from "../src/i18n";
import { createAppVuetify } from "../src/plugins/vuetify";
import { createAppRouter } from "../src/router";

/** An active Pinia whose stores inject the given transport, for store tests. */
export function piniaWith(transport: Transport) {
  const app = createApp({});
  const pinia = createPinia();
  app.provide(transportKey, transport);
  app.use(pinia);
  setActivePinia(pinia);
  return pinia;
}

/**
 * Mounts a view as the app would, over the given transport. Pass a pinia made
 * with piniaWith to mount with stores already set up (e.g. signed in).
 */
export async function mountView(component: Component, transport: Transport, locale: Locale = "ko", path = "/", pinia?: Pinia) {
  const router = createAppRouter(true);
  await router.push(path);
  await router.isReady();
  return mount(component, {
    attachTo: document.body,
    global: {
      plugins: [pinia ?? createPinia(), createAppI18n(locale), router, createAppVuetify(locale)],
      provide: { [transportKey as symbol]: transport },
    },
  });
}

/** Waits until cond holds, polling the event loop; the limit only keeps a broken test from hanging. */
export async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The input a visible label names, anywhere in the document (dialogs are teleported). */
export function inputByLabel(label: string, root: ParentNode = document): HTMLInputElement {
  const l = [...root.querySelectorAll("label[for]")].find((x) => x.textContent?.trim() === label);
  if (!l) throw new Error(`no label ${label}`);
  const input = document.getElementById(l.getAttribute("for")!) as HTMLInputElement | null;
  if (!input) throw new Error(`no input for ${label}`);
  return input;
}

/** Types value into an input as a person would. */
export function type(input: HTMLInputElement, value: string): void {
  input.value = value;
  input.dispatchEvent(new Event("input"));
}

/** The button whose text is exactly text, optionally inside root. */
export function buttonByText(text: string, root: ParentNode = document): HTMLButtonElement {
  const b = [...root.querySelectorAll("button")].find((x) => x.textContent?.trim() === text);
  if (!b) throw new Error(`no button ${text}`);
  return b;
}
