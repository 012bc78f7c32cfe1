// Forms marked `data-enhance` are sent with fetch instead of a page load: the CSRF token travels in the
// X-CSRF-Token header as well as in the form, a redirect is followed, and a refused form (4xx) is replaced by
// the server's own rendering of it, errors beside their fields, with focus on the first field in error.
// Without JavaScript the same forms post normally and the server renders the same result.

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

function focusFirstError(root) {
  const invalid = root.querySelector('[aria-invalid="true"]');
  if (invalid) invalid.focus();
}

// Shows a page fetched in place of a navigation: its title, body and CSRF token; a redirect's target goes into
// the history (Back reloads the previous address).
function show(page, url) {
  document.title = page.title;
  const token = page.querySelector('meta[name="csrf-token"]');
  const current = document.querySelector('meta[name="csrf-token"]');
  if (token && current) current.content = token.content;
  document.body.replaceWith(document.adoptNode(page.body));
  if (url !== window.location.href) window.history.pushState({ fetched: true }, "", url);
  window.scrollTo(0, 0);
  document.dispatchEvent(new CustomEvent("page:shown"));
  focusFirstError(document);
}

async function submit(form, submitter) {
  const body = new URLSearchParams(new FormData(form, submitter));
  const headers = { "Content-Type": "application/x-www-form-urlencoded", Accept: "text/html" };
  const token = csrfToken();
  if (token) headers["X-CSRF-Token"] = token;
  form.setAttribute("aria-busy", "true");
  if (submitter) submitter.disabled = true;
  let response;
  try {
    response = await fetch(form.action, { method: "POST", body, headers, credentials: "same-origin" });
  } catch {
    // The network failed: let the browser post the form itself and show what happens.
    form.removeAttribute("data-enhance");
    form.requestSubmit(submitter);
    return;
  } finally {
    form.removeAttribute("aria-busy");
    if (submitter) submitter.disabled = false;
  }
  // The answer is a whole page either way (a redirect's target, or the form again with its errors). It is shown
  // as it came: fetching it again would lose its one-time flash message.
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = !response.ok && form.id ? page.getElementById(form.id) : null;
  if (fresh) {
    form.replaceChildren(...fresh.childNodes);
    focusFirstError(form);
  } else {
    show(page, response.url);
  }
}

// A field in error is cleared of its message as soon as it is edited.
function clearOnInput(event) {
  const field = event.target;
  if (field.getAttribute("aria-invalid") !== "true") return;
  field.removeAttribute("aria-invalid");
  const message = field.id && document.getElementById(`${field.id}-error`);
  if (message) message.remove();
}

export function enhanceForms(root = document) {
  root.addEventListener("input", clearOnInput);
  root.addEventListener("submit", (event) => {
    const form = event.target;
    const submitter = event.submitter;
    const question = submitter?.dataset.confirm ?? form.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (!form.hasAttribute("data-enhance") || form.method.toLowerCase() !== "post") return;
    event.preventDefault();
    submit(form, submitter);
  });
  window.addEventListener("popstate", () => window.location.reload());
  focusFirstError(root);
}
