import { saveLocale } from "./i18n";
import { apiBaseUrl, createTransport } from "./api/transport";
import { createMolar } from "./app";

const { app, i18n } = createMolar({ transport: (interceptors) => createTransport(apiBaseUrl(), interceptors) });
saveLocale(i18n.global.locale.value);
app.mount("#app");
