import { patientsEn, patientsKo } from "./patients";
import { billingEn, billingKo } from "./billing";
import { scheduleEn, scheduleKo } from "./schedule";
import { setupEn, setupKo } from "./setup";
import { imagesEn, imagesKo } from "./images";
import { backupEn, backupKo } from "./backup";
import { apiDocsEn, apiDocsKo } from "./apidocs";

/** The messages of the screens behind the sign-in, fetched once signed in. */
export const screensKo = {
  patients: patientsKo,
  billing: billingKo,
  schedule: scheduleKo,
  setup: setupKo,
  images: imagesKo,
  backup: backupKo,
  apiDocs: apiDocsKo,
};

/** English; the type keeps its keys in step with Korean. */
export const screensEn: typeof screensKo = {
  patients: patientsEn,
  billing: billingEn,
  schedule: scheduleEn,
  setup: setupEn,
  images: imagesEn,
  backup: backupEn,
  apiDocs: apiDocsEn,
};
