/** A browser as a person would name it. */
export interface BrowserName {
  /** "Chrome 126", "Whale 3", "Safari 17"; empty when unknown. */
  browser: string;
  /** "Windows", "macOS", "Android", "iOS", ...; empty when unknown. */
  os: string;
  mobile: boolean;
}

const browsers: [RegExp, string][] = [
  [/Whale\/(\d+)/, "Whale"],
  [/SamsungBrowser\/(\d+)/, "Samsung Internet"],
  [/Edg(?:e|A|iOS)?\/(\d+)/, "Edge"],
  [/OPR\/(\d+)/, "Opera"],
  [/Firefox\/(\d+)/, "Firefox"],
  [/FxiOS\/(\d+)/, "Firefox"],
  [/CriOS\/(\d+)/, "Chrome"],
  [/Chrome\/(\d+)/, "Chrome"],
  [/Version\/(\d+)[\d.]* (?:Mobile\/\S+ )?Safari\//, "Safari"],
];

const systems: [RegExp, string][] = [
  [/Windows/, "Windows"],
  [/Android/, "Android"],
  [/iPhone|iPad|iPod/, "iOS"],
  [/CrOS/, "ChromeOS"],
  [/Mac OS X|Macintosh/, "macOS"],
  [/Linux/, "Linux"],
];

/** Names the browser of a User-Agent header, well enough to tell sessions apart. */
export function describeUserAgent(ua: string): BrowserName {
  let browser = "";
  for (const [re, name] of browsers) {
    const m = re.exec(ua);
    if (m) {
      browser = `${name} ${m[1]}`;
      break;
    }
  }
  const os = systems.find(([re]) => re.test(ua))?.[1] ?? "";
  return { browser, os, mobile: /Mobi|Android|iPhone|iPad/.test(ua) };
}
