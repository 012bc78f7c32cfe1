// Flash messages get a close button; success messages leave by themselves after a while unless focused.

export function enhanceFlashes(root = document) {
  for (const flash of root.querySelectorAll("[data-flash]")) {
    const close = document.createElement("button");
    close.type = "button";
    close.className = "alert-close";
    close.setAttribute("aria-label", "Dismiss this message");
    close.textContent = "\u00d7";
    close.addEventListener("click", () => flash.remove());
    flash.append(close);
    if (flash.dataset.flash === "success") {
      setTimeout(() => {
        if (!flash.contains(document.activeElement)) flash.remove();
      }, 8000);
    }
  }
}
