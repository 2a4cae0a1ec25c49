import { useI18n } from "vue-i18n";
import type { InvoiceLine } from "../../gen/molar/v1/billing_pb";
import { useChartStore } from "../../stores/chart";

/**
 * A bill's line in the current language: the name it was billed under
 * (Korean, as the catalog had it), or in English the catalog's English name
 * for its code.
 */
export function useLineName() {
  const { locale } = useI18n();
  const chart = useChartStore();
  void chart.loadCatalog();
  return (l: InvoiceLine): string => (locale.value === "en" ? chart.procedureByCode.get(l.procedureCode)?.nameEn || l.name : l.name);
}
