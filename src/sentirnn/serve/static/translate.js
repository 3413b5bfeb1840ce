// The translation page: calls /v1/translate with attention and draws the weights as a
// heat-map (a CSS grid: source tokens across, output tokens down), so that it needs no
// plotting library. Text from users and models is only ever set through textContent.
// Needs common.js ($, call, showError), loaded before it.
"use strict";

function heatLabel(className, text, column, row) {
  const el = document.createElement("div");
  el.className = className;
  el.textContent = text;
  el.title = text;
  el.style.gridColumn = String(column);
  el.style.gridRow = String(row);
  return el;
}

// weights: one row per output token, one column per source token; each row sums to 1, so
// the colour shows the weight itself (not scaled per text): a pale row is a spread-out look.
function drawHeatmap(container, sourceTokens, outputTokens, weights) {
  container.replaceChildren();
  container.style.gridTemplateColumns = `auto repeat(${sourceTokens.length}, 2rem)`;
  sourceTokens.forEach((token, j) => {
    const label = heatLabel("heat-source", token, j + 2, 1);
    label.setAttribute("role", "columnheader");
    container.appendChild(label);
  });
  outputTokens.forEach((token, i) => {
    const label = heatLabel("heat-output", token, 1, i + 2);
    label.setAttribute("role", "rowheader");
    container.appendChild(label);
    sourceTokens.forEach((source, j) => {
      const w = (weights[i] && weights[i][j]) || 0;
      const cell = document.createElement("div");
      cell.className = "heat-cell";
      cell.setAttribute("role", "cell");
      cell.style.gridColumn = String(j + 2);
      cell.style.gridRow = String(i + 2);
      cell.style.backgroundColor = `rgba(37, 99, 235, ${Math.min(1, Math.max(0, w)).toFixed(3)})`;
      cell.dataset.weight = String(w);
      cell.title = `${token} ← ${source}: ${w.toFixed(3)}`;
      container.appendChild(cell);
    });
  });
}

async function translateOne() {
  const text = $("source").value;
  const button = $("translate");
  showError("error", "");
  if (text.trim() === "") {
    $("result").hidden = true;
    showError("error", "write a sentence first");
    return;
  }
  const payload = { texts: [text], attention: true };
  const beam = $("beam").value.trim();
  if (beam !== "") payload.beam = Number(beam);
  button.disabled = true;
  try {
    const answer = await call("POST", "/v1/translate", payload);
    const alignment = answer.alignments[0];
    $("translation").textContent = answer.translations[0];
    drawHeatmap($("heatmap"), alignment.source_tokens, alignment.output_tokens,
                alignment.attention);
    $("result").hidden = false;
  } catch (e) {
    $("result").hidden = true;
    showError("error", e.message);
  } finally {
    button.disabled = false;
  }
}

async function showModel() {
  try {
    const info = await call("GET", "/v1/model");
    const arch = info.architecture || {};
    const attention = arch.attention && arch.attention !== "none" ? `${arch.attention} attention`
      : "no attention";
    $("model-info").textContent =
      `${info.model}: translates ${info.source_language} → ${info.target_language} ` +
      `(${arch.cell || "rnn"}, ${attention}, beam ${info.beam}; sentirnn ${info.sentirnn_version})`;
    $("beam").placeholder = String(info.beam);
    $("beam").max = String(info.limits.max_beam);
    $("source").lang = info.source_language;
    $("translation").lang = info.target_language;
  } catch (e) {
    $("model-info").textContent = `model information unavailable (${e.message})`;
  }
}

$("translate").addEventListener("click", translateOne);
$("source").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) translateOne();
});
showModel();
