import { App } from "./app.ts";
import "./style.css";

const app = new App();
window.addEventListener("error", (event) => app.reportUncaught(event.error ?? event.message));
window.addEventListener("unhandledrejection", (event) => app.reportUncaught(event.reason));
void app.start();
