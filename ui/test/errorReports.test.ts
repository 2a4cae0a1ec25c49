import { afterEach, describe, expect, it } from "vitest";
import { createApp, defineComponent, h, nextTick } from "vue";
import { close, createTransport, flush } from "@sentry/vue";
import { createErrorReports, errorReportSettings, ERROR_REPORTS_META } from "../src/plugins/errorReports";
import { scrub, startSentry } from "../src/plugins/sentry";

/** A document whose head has the error reports' meta element with content. */
function page(content?: string): Document {
  const doc = document.implementation.createHTMLDocument("Molar");
  if (content !== undefined) {
    const meta = doc.createElement("meta");
    meta.name = ERROR_REPORTS_META;
    meta.content = content;
    doc.head.append(meta);
  }
  return doc;
}

const settings = { dsn: "https://public@reports.example.com/7", release: "molar@1.2.3", environment: "prod" };

describe("error reports", () => {
  afterEach(async () => {
    await close();
  });

  it("read their settings from the page, and are off without them", async () => {
    expect(errorReportSettings(page())).toBeNull();
    expect(errorReportSettings(page("{not json"))).toBeNull();
    expect(errorReportSettings(page(JSON.stringify({ dsn: "" })))).toBeNull();
    expect(errorReportSettings(page(JSON.stringify(settings)))).toEqual(settings);
    const start = createErrorReports(createApp({}), page());
    expect(await start()).toBe(false);
  });

  it("scrub what could be personal", () => {
    expect(scrub("환자 황보칠성 (770312-1849263, 010-7391-4826, chilseong@example.com) failed at 18000")).toBe(
      "[text] ([rrn], [phone], [email]) failed at 18000",
    );
    expect(scrub("TypeError: x is undefined at assets/PatientView-Bx1.js:12")).toBe("TypeError: x is undefined at assets/PatientView-Bx1.js:12");
  });

  it("send a Vue error with the release and environment and nothing personal", async () => {
    const sent: string[] = [];
    const decoder = new TextDecoder();
    const transport = (options: Parameters<typeof createTransport>[0]) =>
      createTransport(options, async (req) => {
        sent.push(typeof req.body === "string" ? req.body : decoder.decode(req.body));
        return { statusCode: 200 };
      });
    const Broken = defineComponent({
      props: { patientName: { type: String, required: true } },
      setup(props) {
        return () =>
          h("button", {
            onClick: () => {
              throw new Error(`cannot open ${props.patientName} (770312-1849263, 010-7391-4826, chilseong@example.com)`);
            },
          });
      },
    });
    const app = createApp({ render: () => h(Broken, { patientName: "황보칠성" }) });
    // What the app does with an error besides reporting it: here, nothing.
    app.config.errorHandler = () => {};
    startSentry(app, settings, transport);
    const root = document.createElement("div");
    document.body.append(root);
    app.mount(root);
    root.querySelector("button")!.dispatchEvent(new MouseEvent("click"));
    await nextTick();
    expect(await flush(10_000)).toBe(true);
    app.unmount();

    const all = sent.join("\n");
    expect(all).toContain("cannot open [text] ([rrn], [phone], [email])");
    expect(all).toContain('"release":"molar@1.2.3"');
    expect(all).toContain('"environment":"prod"');
    for (const secret of ["황보칠성", "770312", "1849263", "7391", "chilseong", "patientName", '"request"', '"user"', '"breadcrumbs"']) {
      expect(all).not.toContain(secret);
    }
  });
});
