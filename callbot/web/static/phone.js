// « Essayer le robot »: the microphone call (/phone/call, the generic bridge protocol, whose
// "turn" messages report each bot turn) and the text conversation (/phone/text, whose "turn"
// messages carry it under "turn"); both fill the same transcript.
"use strict";

const RATE_HZ = 16000;
const ACTIONS = {
  answer: "réponse", clarify: "demande de précision", transfer: "transfert à un agent",
  hangup: "fin d'appel", reprompt: "relance",
};

function socketUrl(path) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
}

function showTurn(turn) {
  const list = document.getElementById("transcript");
  if (turn.caller) {
    const said = document.createElement("li");
    said.className = "caller";
    said.textContent = "Vous : " + turn.caller;
    list.append(said);
  }
  const bot = document.createElement("li");
  bot.className = "bot";
  bot.dataset.intent = turn.intent || "";
  bot.dataset.action = turn.action || "";
  bot.textContent = "Robot : " + turn.bot;
  const why = document.createElement("small");
  const topic = turn.title || turn.intent;
  const parts = [];
  if (topic) parts.push("sujet : " + topic);
  if (turn.confidence !== null && turn.confidence !== undefined) {
    parts.push("confiance " + Math.round(turn.confidence * 100) + " %");
  }
  parts.push(ACTIONS[turn.action] || turn.action);
  why.textContent = " — " + parts.join(" · ");
  bot.append(why);
  list.append(bot);
}

function status(text) {
  const where = document.getElementById("status");
  if (where) where.textContent = text;
}

function lineEnded(message) {
  if (message.type === "transfer") {
    status("Au téléphone, l'appel serait maintenant transféré au standard (" + message.reason + ").");
    return true;
  }
  if (message.type === "hangup") {
    status("Le robot a raccroché.");
    return true;
  }
  if (message.type === "error") {
    status("Erreur : " + message.message);
    return true;
  }
  return false;
}

// ---- the microphone call
const voice = { ws: null, context: null, stream: null, started: false };

async function call() {
  const context = new AudioContext({ sampleRate: RATE_HZ });
  await context.audioWorklet.addModule("/static/phone-worklet.js");
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
  });
  const capture = new AudioWorkletNode(context, "pcm-capture");
  const player = new AudioWorkletNode(context, "pcm-player");
  context.createMediaStreamSource(stream).connect(capture);
  player.connect(context.destination);
  player.port.onmessage = (event) => {
    document.body.dataset.heardMs = String(Math.round(event.data.played / RATE_HZ * 1000));
  };
  const ws = new WebSocket(socketUrl("/phone/call"));
  ws.binaryType = "arraybuffer";
  Object.assign(voice, { ws, context, stream, started: false });
  ws.onopen = () => ws.send(JSON.stringify(
    { type: "start", sample_rate: RATE_HZ, caller: "navigateur" }));
  capture.port.onmessage = (event) => {
    if (voice.started && ws.readyState === WebSocket.OPEN) ws.send(event.data);
  };
  ws.onmessage = (event) => {
    if (typeof event.data !== "string") {
      player.port.postMessage(event.data, [event.data]);
      return;
    }
    const message = JSON.parse(event.data);
    if (message.type === "started") {
      voice.started = true;
      status("En ligne.");
    } else if (message.type === "turn") {
      showTurn(message);
    } else if (message.type === "clear") {
      player.port.postMessage("clear");
    } else if (lineEnded(message)) {
      setTimeout(hangUp, 3000, false); // let the last words play
    }
  };
  ws.onclose = (event) => {
    if (event.code === 1013) status("Le robot est occupé (trop d'appels en cours) : réessayez.");
    finish();
  };
  document.getElementById("call").disabled = true;
  document.getElementById("key0").disabled = false;
  document.getElementById("hangup").disabled = false;
  status("Appel en cours…");
}

function hangUp(byCaller = true) {
  if (voice.ws && voice.ws.readyState === WebSocket.OPEN) {
    if (byCaller) voice.ws.send(JSON.stringify({ type: "stop" }));
    voice.ws.close();
  }
  finish();
}

function finish() {
  if (voice.stream) voice.stream.getTracks().forEach((track) => track.stop());
  if (voice.context) voice.context.close();
  Object.assign(voice, { ws: null, context: null, stream: null, started: false });
  const button = document.getElementById("call");
  if (button) {
    button.disabled = false;
    document.getElementById("key0").disabled = true;
    document.getElementById("hangup").disabled = true;
  }
  document.body.dataset.callEnded = "yes";
}

if (document.getElementById("call")) {
  document.getElementById("call").onclick = () => call().catch((error) => {
    status("Le micro n'a pas pu être ouvert : " + error.message);
    finish();
  });
  document.getElementById("key0").onclick = () => voice.ws && voice.ws.send(
    JSON.stringify({ type: "dtmf", digit: "0" }));
  document.getElementById("hangup").onclick = () => hangUp(true);
}

// ---- the text conversation
const text = { ws: null, pending: [] };

function textSend(message) {
  if (text.ws && text.ws.readyState === WebSocket.OPEN) {
    text.ws.send(JSON.stringify(message));
    return;
  }
  text.pending.push(message);
  if (text.ws) return; // connecting
  text.ws = new WebSocket(socketUrl("/phone/text"));
  text.ws.onopen = () => text.pending.splice(0).forEach((m) => text.ws.send(JSON.stringify(m)));
  text.ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "turn") showTurn(message.turn);
    else if (message.type === "error") showTurn({ bot: "(" + message.message + ")", action: "" });
  };
  text.ws.onclose = () => { text.ws = null; };
}

document.getElementById("say").onsubmit = (event) => {
  event.preventDefault();
  const line = document.getElementById("line");
  if (line.value.trim()) textSend({ type: "say", text: line.value });
  line.value = "";
};
document.getElementById("text-key0").onclick = () => textSend({ type: "dtmf", digit: "0" });
document.getElementById("text-silence").onclick = () => textSend({ type: "silence" });
