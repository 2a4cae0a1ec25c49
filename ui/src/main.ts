import { loadMessages, saveLocale } from "./i18n";
import { apiBaseUrl, createTransport } from "./api/transport";
import { createMolar } from "./app";

const { app, i18n } = createMolar({ transport: (interceptors) => createTransport(apiBaseUrl(), interceptors) });
const locale = i18n.global.locale.value;
saveLocale(locale);
void loadMessages(i18n.global, locale).then(() => app.mount("#app"));
