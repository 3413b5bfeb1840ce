// The sentirnn page: calls /v1/predict and /v1/explain and draws the answers.
// Plain JavaScript, no build step and no CDN (servers often have no internet). Text from
// users and models is only ever set through textContent, never parsed as HTML.
// Needs common.js ($, call, showError), loaded before it.
"use strict";

function drawBars(container, probabilities) {
  container.replaceChildren();
  for (const [name, p] of Object.entries(probabilities)) {
    const row = document.createElement("div");
    row.className = "bar";
    row.dataset.label = name;
    const label = document.createElement("span");
    label.className = "bar-name";
    label.textContent = name;
    label.title = name;
    const track = document.createElement("span");
    track.className = "bar-track";
    const fill = document.createElement("span");
    fill.className = "bar-fill";
    fill.style.display = "block";
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    track.appendChild(fill);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.textContent = p.toFixed(3);
    row.append(label, track, value);
    container.appendChild(row);
  }
}

// Colour ∝ |score| relative to the strongest token, so every text uses the full scale.
function drawTokens(container, tokens, scores) {
  container.replaceChildren();
  const top = Math.max(1e-12, ...scores.map((s) => Math.abs(s)));
  tokens.forEach((token, i) => {
    const score = scores[i] || 0;
    const alpha = (0.85 * Math.abs(score)) / top;
    const span = document.createElement("span");
    span.className = "token";
    span.textContent = token;
    span.title = `score ${score.toFixed(4)}`;
    span.dataset.score = String(score);
    span.style.backgroundColor = score >= 0
      ? `rgba(22, 163, 74, ${alpha.toFixed(3)})`
      : `rgba(220, 38, 38, ${alpha.toFixed(3)})`;
    container.appendChild(span);
  });
}

async function classifyOne() {
  const text = $("text").value;
  const button = $("classify");
  showError("error", "");
  if (text.trim() === "") {
    $("result").hidden = true;
    showError("error", "write a text first");
    return;
  }
  button.disabled = true;
  try {
    // The label and bars come from /v1/predict (every backend has it); the explanation is
    // asked for at the same time and may be unavailable (501 on ONNX backends).
    const [predicted, explained] = await Promise.allSettled([
      call("POST", "/v1/predict", { texts: [text] }),
      call("POST", "/v1/explain", { text }),
    ]);
    if (predicted.status === "rejected") throw predicted.reason;
    const prediction = predicted.value.predictions[0];
    $("label").textContent = prediction.label;
    drawBars($("bars"), prediction.probabilities);
    const tokens = $("tokens");
    if (explained.status === "fulfilled") {
      drawTokens(tokens, explained.value.tokens, explained.value.scores);
    } else {
      tokens.replaceChildren();
      tokens.textContent = `no explanation: ${explained.reason.message}`;
    }
    $("result").hidden = false;
  } catch (e) {
    $("result").hidden = true;
    showError("error", e.message);
  } finally {
    button.disabled = false;
  }
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
}

async function classifyBatch() {
  const texts = $("batch").value.split("\n").filter((line) => line.trim() !== "");
  const button = $("batch-run");
  const table = $("batch-results");
  showError("batch-error", "");
  if (texts.length === 0) {
    table.hidden = true;
    showError("batch-error", "write at least one text, one per line");
    return;
  }
  button.disabled = true;
  try {
    const answer = await call("POST", "/v1/predict", { texts });
    const labels = Object.keys(answer.predictions[0].probabilities);
    table.replaceChildren();
    const head = document.createElement("tr");
    ["#", "text", "label", ...labels].forEach((name, i) => {
      const th = document.createElement("th");
      th.textContent = name;
      if (i === 0 || i > 2) th.className = "num";
      head.appendChild(th);
    });
    table.appendChild(head);
    answer.predictions.forEach((prediction, i) => {
      const row = document.createElement("tr");
      cell(row, String(i + 1), "num");
      cell(row, texts[i]);
      cell(row, prediction.label, "label");
      for (const name of labels) cell(row, prediction.probabilities[name].toFixed(3), "num");
      table.appendChild(row);
    });
    table.hidden = false;
  } catch (e) {
    table.hidden = true;
    showError("batch-error", e.message);
  } finally {
    button.disabled = false;
  }
}

async function showModel() {
  try {
    const info = await call("GET", "/v1/model");
    const arch = info.architecture || {};
    const cell = arch.cell ? `${arch.bidirectional ? "bi" : ""}${arch.cell}` : "model";
    $("model-info").textContent =
      `${info.model}: ${cell}, labels ${info.labels.join(", ")} (${info.backend} backend, ` +
      `sentirnn ${info.sentirnn_version})`;
  } catch (e) {
    $("model-info").textContent = `model information unavailable (${e.message})`;
  }
}

$("classify").addEventListener("click", classifyOne);
$("batch-run").addEventListener("click", classifyBatch);
$("text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) classifyOne();
});
showModel();
