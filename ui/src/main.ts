import { createApp } from "vue";
import { createPinia } from "pinia";
import App from "./App.vue";
import { createAppI18n, saveLocale } from "./i18n";
import { createAppRouter } from "./router";
import { createAppVuetify } from "./plugins/vuetify";
import { apiBaseUrl, createTransport, transportKey } from "./api/transport";

const i18n = createAppI18n();
const locale = i18n.global.locale.value;
saveLocale(locale);

createApp(App)
  .provide(transportKey, createTransport(apiBaseUrl()))
  .use(createPinia())
  .use(i18n)
  .use(createAppRouter())
  .use(createAppVuetify(locale))
  .mount("#app");
