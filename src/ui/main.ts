import { App } from "./app.ts";
import "./style.css";

const app = new App();
window.addEventListener("error", (event) => app.reportUncaught(event.error ?? event.message));
window.addEventListener("unhandledrejection", (event) => app.reportUncaught(event.reason));
// The offline worker's downloads wait for the page's own first start.
app.offline.startAfter(app.start());
