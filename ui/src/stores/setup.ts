import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { defineStore } from "pinia";
import { inject, ref } from "vue";
import {
  ScheduleService,
  SaveAppointmentTypeRequestSchema,
  SaveChairRequestSchema,
  SaveProviderRequestSchema,
  type AppointmentType,
  type Chair,
  type Provider,
} from "../gen/molar/v1/schedule_pb";
import { CatalogService, SaveProcedureRequestSchema, type Procedure } from "../gen/molar/v1/chart_pb";
import { toProblem, type Problem } from "../api/errors";
import { schemaProblem } from "../api/validate";
import { transportKey } from "../api/transport";
import { useScheduleStore } from "./schedule";
import { useChartStore } from "./chart";

/**
 * The clinic's set-up: the book's providers, chairs and appointment types
 * (SCHEDULE_MANAGE) and the fee catalog (CATALOG_MANAGE). The lists
 * themselves are the schedule and chart stores'; a save here brings them
 * up to date, so the book and the chart use what was just set up.
 */
export const useSetupStore = defineStore("setup", () => {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const schedule = createClient(ScheduleService, transport);
  const catalog = createClient(CatalogService, transport);
  const scheduleStore = useScheduleStore();
  const chartStore = useChartStore();

  /** A change is being sent. */
  const saving = ref(false);
  /** Why the last change failed, for the dialog that sent it. */
  const saveProblem = ref<Problem | null>(null);

  /** Validates req with the schema's rules, sends it, then reloads what it changed. */
  async function send<D extends DescMessage, R>(
    schema: D,
    req: MessageShape<D>,
    call: (req: MessageShape<D>) => Promise<R>,
    reload: () => Promise<void>,
  ): Promise<R | null> {
    const invalid = await schemaProblem(schema, req);
    if (invalid) {
      saveProblem.value = invalid;
      return null;
    }
    saving.value = true;
    saveProblem.value = null;
    try {
      const res = await call(req);
      await reload();
      return res;
    } catch (err) {
      saveProblem.value = toProblem(err);
      return null;
    } finally {
      saving.value = false;
    }
  }

  const reloadResources = () => scheduleStore.loadResources(true);
  const reloadCatalog = () => chartStore.loadCatalog(true);

  async function saveProvider(provider: Provider): Promise<Provider | null> {
    const res = await send(SaveProviderRequestSchema, create(SaveProviderRequestSchema, { provider }), (r) => schedule.saveProvider(r), reloadResources);
    return res?.provider ?? null;
  }

  async function saveChair(chair: Chair): Promise<Chair | null> {
    const res = await send(SaveChairRequestSchema, create(SaveChairRequestSchema, { chair }), (r) => schedule.saveChair(r), reloadResources);
    return res?.chair ?? null;
  }

  async function saveType(type: AppointmentType): Promise<AppointmentType | null> {
    const res = await send(
      SaveAppointmentTypeRequestSchema,
      create(SaveAppointmentTypeRequestSchema, { type }),
      (r) => schedule.saveAppointmentType(r),
      reloadResources,
    );
    return res?.type ?? null;
  }

  async function saveProcedure(procedure: Procedure): Promise<Procedure | null> {
    const res = await send(SaveProcedureRequestSchema, create(SaveProcedureRequestSchema, { procedure }), (r) => catalog.saveProcedure(r), reloadCatalog);
    return res?.procedure ?? null;
  }

  function clearSaveProblem(): void {
    saveProblem.value = null;
  }

  return { saving, saveProblem, saveProvider, saveChair, saveType, saveProcedure, clearSaveProblem };
});
