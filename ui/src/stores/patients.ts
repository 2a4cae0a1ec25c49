import { create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { defineStore } from "pinia";
import { inject, ref, shallowRef, watch } from "vue";
import {
  CreatePatientRequestSchema,
  PatientService,
  SearchPatientsRequestSchema,
  SetPatientActiveRequestSchema,
  UpdatePatientRequestSchema,
  type Patient,
  type PatientInput,
  type PatientSummary,
} from "../gen/molar/v1/patient_pb";
import { toProblem, type Problem } from "../api/errors";
import { schemaProblem } from "../api/validate";
import { transportKey } from "../api/transport";
import { useAuthStore } from "./auth";

/** Matches per page of search results. */
export const patientPageSize = 20;

/**
 * Patients: the search box of the front desk, the patient open on the card,
 * registration (with its duplicate check), edits, deactivation and revealing
 * the registration number.
 */
export const usePatientsStore = defineStore("patients", () => {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(PatientService, transport);
  const auth = useAuthStore();

  // Search. Typing fires a search per pause; answers can come back in any
  // order, so each search takes a number and only the latest one's answer
  // (and its pages) is shown.
  const query = ref("");
  const includeInactive = ref(false);
  const results = shallowRef<PatientSummary[]>([]);
  const nextPageToken = ref("");
  /** The query the shown results answer, or null before the first answer. */
  const resultsFor = ref<string | null>(null);
  const searching = ref(false);
  const searchingMore = ref(false);
  const searchProblem = ref<Problem | null>(null);
  let searchGeneration = 0;

  function searchRequest(pageToken: string) {
    return create(SearchPatientsRequestSchema, {
      query: query.value.trim(),
      includeInactive: includeInactive.value,
      pageSize: patientPageSize,
      pageToken,
    });
  }

  /** Searches for q (the whole list of recent patients when empty), replacing the results. */
  async function search(q: string, inactive = includeInactive.value): Promise<void> {
    query.value = q;
    includeInactive.value = inactive;
    const mine = ++searchGeneration;
    searching.value = true;
    searchingMore.value = false;
    searchProblem.value = null;
    try {
      const res = await client.searchPatients(searchRequest(""));
      if (mine !== searchGeneration) return;
      results.value = res.patients;
      nextPageToken.value = res.nextPageToken;
      resultsFor.value = q;
    } catch (err) {
      if (mine !== searchGeneration) return;
      results.value = [];
      nextPageToken.value = "";
      resultsFor.value = q;
      searchProblem.value = toProblem(err);
    } finally {
      if (mine === searchGeneration) searching.value = false;
    }
  }

  /** Appends the next page of the current search, if there is one. */
  async function loadMore(): Promise<void> {
    if (!nextPageToken.value || searching.value || searchingMore.value) return;
    const mine = searchGeneration;
    searchingMore.value = true;
    searchProblem.value = null;
    try {
      const res = await client.searchPatients(searchRequest(nextPageToken.value));
      if (mine !== searchGeneration) return;
      results.value = [...results.value, ...res.patients];
      nextPageToken.value = res.nextPageToken;
    } catch (err) {
      if (mine === searchGeneration) searchProblem.value = toProblem(err);
    } finally {
      if (mine === searchGeneration) searchingMore.value = false;
    }
  }

  // The patient open on the card (and in the edit form).
  const patient = shallowRef<Patient | null>(null);
  const loading = ref(false);
  const loadProblem = ref<Problem | null>(null);
  let loadGeneration = 0;

  /** The full registration number of the open patient, once revealed. */
  const revealedRrn = ref<string | null>(null);
  const revealing = ref(false);
  const revealProblem = ref<Problem | null>(null);

  /** Loads the patient with id; a later call wins over an earlier one still on its way. */
  async function load(id: string): Promise<void> {
    const mine = ++loadGeneration;
    loading.value = true;
    loadProblem.value = null;
    if (patient.value?.id !== id) {
      patient.value = null;
      forgetRrn();
    }
    try {
      const res = await client.getPatient({ id });
      if (mine !== loadGeneration) return;
      patient.value = res.patient ?? null;
    } catch (err) {
      if (mine !== loadGeneration) return;
      patient.value = null;
      loadProblem.value = toProblem(err);
    } finally {
      if (mine === loadGeneration) loading.value = false;
    }
  }

  /** Takes the revealed registration number off the screen. */
  function forgetRrn(): void {
    revealedRrn.value = null;
    revealProblem.value = null;
  }

  /** Asks for the open patient's full registration number (audited on the server). */
  async function revealRrn(): Promise<boolean> {
    const p = patient.value;
    if (!p) return false;
    revealing.value = true;
    revealProblem.value = null;
    try {
      const res = await client.revealRrn({ id: p.id });
      if (patient.value?.id !== p.id) return false;
      revealedRrn.value = res.rrn;
      return true;
    } catch (err) {
      revealProblem.value = toProblem(err);
      return false;
    } finally {
      revealing.value = false;
    }
  }

  // Saving: registration, edits and (de)activation.
  const saving = ref(false);
  const saveProblem = ref<Problem | null>(null);
  /** Set when registration was refused because these patients may be the same person. */
  const blockingDuplicates = shallowRef<PatientSummary[] | null>(null);

  function clearSaveProblem(): void {
    saveProblem.value = null;
    blockingDuplicates.value = null;
  }

  /**
   * Registers a patient after checking the schema's rules in the browser.
   * When the server refuses because of likely duplicates, blockingDuplicates
   * lists them and the caller may try again with allowDuplicate.
   * Returns the new record, or null (saveProblem says why).
   */
  async function createPatient(details: PatientInput, allowDuplicate = false): Promise<Patient | null> {
    const req = create(CreatePatientRequestSchema, { details, allowDuplicate });
    const invalid = await schemaProblem(CreatePatientRequestSchema, req);
    clearSaveProblem();
    if (invalid) {
      saveProblem.value = invalid;
      return null;
    }
    saving.value = true;
    try {
      const res = await client.createPatient(req);
      patient.value = res.patient ?? null;
      forgetRrn();
      return patient.value;
    } catch (err) {
      const problem = toProblem(err);
      if (problem.code === Code.FailedPrecondition && !allowDuplicate) {
        blockingDuplicates.value = await duplicatesOf(details);
      }
      saveProblem.value = problem;
      return null;
    } finally {
      saving.value = false;
    }
  }

  /** The likely duplicates of details, or an empty list when they cannot be found. */
  async function duplicatesOf(details: PatientInput): Promise<PatientSummary[]> {
    try {
      const res = await client.findDuplicates({
        name: details.name,
        birthDate: details.birthDate,
        mobilePhone: details.mobilePhone,
      });
      return res.patients;
    } catch {
      // The refusal itself is reported; the list is only a help.
      return [];
    }
  }

  /**
   * Replaces a patient's details, based on the version that was loaded.
   * Returns the saved record, or null (saveProblem says why: Aborted when
   * someone saved in between).
   */
  async function updatePatient(id: string, details: PatientInput, version: bigint): Promise<Patient | null> {
    const req = create(UpdatePatientRequestSchema, { id, details, version });
    const invalid = await schemaProblem(UpdatePatientRequestSchema, req);
    clearSaveProblem();
    if (invalid) {
      saveProblem.value = invalid;
      return null;
    }
    saving.value = true;
    try {
      const res = await client.updatePatient(req);
      patient.value = res.patient ?? null;
      return patient.value;
    } catch (err) {
      saveProblem.value = toProblem(err);
      return null;
    } finally {
      saving.value = false;
    }
  }

  /** Deactivates (reason required) or reactivates the open patient. */
  async function setActive(active: boolean, reason: string): Promise<boolean> {
    const p = patient.value;
    if (!p) return false;
    const req = create(SetPatientActiveRequestSchema, { id: p.id, active, reason: active ? "" : reason.trim() });
    const invalid = await schemaProblem(SetPatientActiveRequestSchema, req);
    clearSaveProblem();
    if (invalid) {
      saveProblem.value = invalid;
      return false;
    }
    saving.value = true;
    try {
      const res = await client.setPatientActive(req);
      patient.value = res.patient ?? p;
      return true;
    } catch (err) {
      saveProblem.value = toProblem(err);
      return false;
    } finally {
      saving.value = false;
    }
  }

  // The live duplicate warning of the registration form.
  const possibleDuplicates = shallowRef<PatientSummary[]>([]);
  let duplicateGeneration = 0;

  /**
   * Looks for patients the one being entered may duplicate: the same name and
   * birth date, or the same mobile phone. Failures leave the warning empty;
   * the server checks again on registration.
   */
  async function checkDuplicates(name: string, birthDate: string, mobilePhone: string): Promise<void> {
    const mine = ++duplicateGeneration;
    if (!(name && birthDate) && !mobilePhone) {
      possibleDuplicates.value = [];
      return;
    }
    try {
      const res = await client.findDuplicates({ name, birthDate, mobilePhone });
      if (mine === duplicateGeneration) possibleDuplicates.value = res.patients;
    } catch {
      if (mine === duplicateGeneration) possibleDuplicates.value = [];
    }
  }

  function clearDuplicates(): void {
    duplicateGeneration++;
    possibleDuplicates.value = [];
  }

  // Patient data never outlives the session it was loaded in.
  watch(
    () => auth.staff?.id,
    (now, before) => {
      if (now === before) return;
      searchGeneration++;
      loadGeneration++;
      searching.value = false;
      searchingMore.value = false;
      loading.value = false;
      results.value = [];
      nextPageToken.value = "";
      resultsFor.value = null;
      query.value = "";
      patient.value = null;
      forgetRrn();
      clearSaveProblem();
      clearDuplicates();
    },
  );

  return {
    query,
    includeInactive,
    results,
    nextPageToken,
    resultsFor,
    searching,
    searchingMore,
    searchProblem,
    search,
    loadMore,
    patient,
    loading,
    loadProblem,
    load,
    revealedRrn,
    revealing,
    revealProblem,
    revealRrn,
    forgetRrn,
    saving,
    saveProblem,
    blockingDuplicates,
    clearSaveProblem,
    createPatient,
    updatePatient,
    setActive,
    possibleDuplicates,
    checkDuplicates,
    clearDuplicates,
  };
});
