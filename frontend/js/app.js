// The site's one script, an ES module loaded by every page. Pages work without it; it only enhances them.
import { enhanceFlashes } from "./flash.js";
import { enhanceForms } from "./forms.js";
import { enableLive } from "./live.js";

enhanceForms();
enhanceFlashes();
enableLive();
// A form answered in place brings a new body: its flash messages get the same treatment.
document.addEventListener("page:shown", () => enhanceFlashes());
document.documentElement.classList.add("js");
