// What both pages share: calling the API and showing its errors in one line.
// Plain JavaScript, no build step and no CDN (servers often have no internet). Text from
// users and models is only ever set through textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

// One line for any error the API answers: FastAPI's validation errors come as a list.
function describeError(status, body) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) {
    return `${status}: ` + detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  }
  return `${status}: ${detail || "the server answered an error"}`;
}

async function call(method, path, payload) {
  const options = { method, headers: { "Content-Type": "application/json" } };
  if (payload !== undefined) options.body = JSON.stringify(payload);
  let response;
  try {
    response = await fetch(path, options);
  } catch (e) {
    throw new Error(`the server cannot be reached (${e.message})`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    const error = new Error(describeError(response.status, body));
    error.status = response.status;
    throw error;
  }
  return body;
}

function showError(id, message) {
  const el = $(id);
  el.textContent = message || "";
  el.hidden = !message;
}
