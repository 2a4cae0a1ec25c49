/// <reference types="vite/client" />
declare module "*.vue" {
  import type { DefineComponent } from "vue";
  const component: DefineComponent<object, object, unknown>;
  export default component;
}
interface ImportMetaEnv {
  /** Where the API is served; defaults to the page's own origin. */
  readonly VITE_API_BASE_URL?: string;
}
