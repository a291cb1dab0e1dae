"use strict";
// MUSHRA page: every stimulus of a trial plays at once through its own gain node, so switching
// is a 5-ms crossfade at the same position; ratings are kept in localStorage and, when served by
// `evalkit listen serve`, posted to the run folder trial by trial.
(function () {
  const TEST = JSON.parse(document.getElementById("test-data").textContent);
  const KEY = "evalkit-mushra:" + TEST.test_id;
  const $ = (id) => document.getElementById(id);
  const TRIALS = Object.fromEntries(TEST.trials.map((t) => [t.id, t]));
  let ctx = null, record = null, server = false, current = null;

  function show(id) {
    for (const s of ["welcome", "trial", "done", "fatal"]) { $(s).hidden = s !== id; }
  }
  function fatal(text) { $("fatal-text").textContent = text; show("fatal"); }

  function shuffled(items) {
    const a = items.slice(), r = new Uint32Array(a.length);
    crypto.getRandomValues(r);
    for (let i = a.length - 1; i > 0; i--) { const j = r[i] % (i + 1); [a[i], a[j]] = [a[j], a[i]]; }
    return a;
  }
  function newRecord(name) {
    const orders = {};
    for (const t of TEST.trials) { orders[t.id] = shuffled(t.stimuli.map((s) => s.id)); }
    return { format: "evalkit-mushra-ratings/1", test_id: TEST.test_id, listener: name,
             plan: { trial_order: shuffled(TEST.trials.map((t) => t.id)), orders: orders },
             trials: {} };
  }
  const local = {
    load: (name) => JSON.parse(localStorage.getItem(KEY + ":" + name) || "null"),
    save: (r) => { localStorage.setItem(KEY + ":" + r.listener, JSON.stringify(r));
                   localStorage.setItem(KEY + ":last", r.listener); },
  };
  async function serverRecord(name) {
    if (!location.protocol.startsWith("http")) { return undefined; }
    try {
      const r = await fetch("api/ratings?listener=" + encodeURIComponent(name));
      if (!r.ok || r.headers.get("X-Evalkit") !== "1") { return undefined; }  // a static host
      server = true;
      return await r.json();
    } catch (e) { return undefined; }
  }
  function done(r) { return Object.keys(r.trials).length; }

  async function start() {
    const name = $("name").value.trim();
    if (!name) { $("name").focus(); return; }
    ctx = ctx || new AudioContext();
    await ctx.resume();
    const stored = local.load(name), remote = await serverRecord(name);
    record = [remote, stored].filter(Boolean).sort((a, b) => done(b) - done(a))[0] || newRecord(name);
    local.save(record);
    $("listener-name").textContent = "listener: " + name;
    const training = done(record) === 0 && !localStorage.getItem(KEY + ":" + name + ":trained");
    await nextTrial(training);
  }

  function pending() { return record.plan.trial_order.filter((id) => !(id in record.trials)); }

  async function nextTrial(training) {
    stop();
    current = null;  // while the next trial loads, no control acts on the last one
    $("columns").replaceChildren();
    const left = pending();
    if (!training && left.length === 0) { finish(); return; }
    const id = training ? TEST.training_trial : left[0];
    const trial = TRIALS[id];
    const order = training ? shuffled(trial.stimuli.map((s) => s.id)) : record.plan.orders[id];
    const n = TEST.trials.length;
    $("trial-title").textContent = training ? "Training" : "Trial " + (done(record) + 1) + " of " + n;
    $("progress").value = done(record) / n;
    $("training-note").hidden = !training;
    $("status").textContent = "loading…";
    show("trial");
    const files = [...new Set([trial.reference, ...trial.stimuli.map((s) => s.file)])];
    let decoded;
    try {
      decoded = await Promise.all(files.map(async (f) => {
        const r = await fetch(f);
        if (!r.ok) { throw new Error(f + ": HTTP " + r.status); }
        return ctx.decodeAudioData(await r.arrayBuffer());
      }));
    } catch (e) {
      fatal("The stimuli could not be loaded (" + e.message + "). Open this page through " +
            "`evalkit listen serve RUN` or any web server: browsers do not let a page read " +
            "files beside it from file://.");
      return;
    }
    const buffer = Object.fromEntries(files.map((f, i) => [f, decoded[i]]));
    const fileOf = Object.fromEntries(trial.stimuli.map((s) => [s.id, s.file]));
    current = { id: id, training: training, order: order, started: performance.now(),
                buffers: [buffer[trial.reference], ...order.map((s) => buffer[fileOf[s]])],
                ratings: Object.fromEntries(order.map((s) => [s, 0])), played: new Set(),
                active: 0, selected: 1, playing: false, t0: 0, from: 0, sources: [], gains: [] };
    const dur = current.buffers[0].duration;
    current.loop = [0, dur];
    for (const el of [$("loop-start"), $("loop-end")]) { el.max = dur.toFixed(1); }
    $("loop-start").value = 0; $("loop-end").value = dur.toFixed(1);
    drawColumns();
    $("status").textContent = "";
    update();
  }

  function drawColumns() {
    const box = $("columns");
    box.replaceChildren();
    current.order.forEach((sid, k) => {
      const col = document.createElement("div");
      col.className = "column";
      const out = document.createElement("output");
      const slider = document.createElement("input");
      Object.assign(slider, { type: "range", min: 0, max: 100, step: 1, value: 0 });
      slider.setAttribute("aria-label", "rating of stimulus " + (k + 1));
      slider.addEventListener("input", () => { setRating(k + 1, Number(slider.value)); });
      slider.addEventListener("focus", () => { select(k + 1); });
      const button = document.createElement("button");
      button.type = "button";
      button.className = "stim";
      button.textContent = String(k + 1);
      button.addEventListener("click", () => { listen(k + 1); });
      col.append(out, slider, button);
      box.append(col);
    });
  }
  function column(i) { return $("columns").children[i - 1]; }
  function setRating(i, value) {
    const v = Math.max(0, Math.min(100, Math.round(value)));
    current.ratings[current.order[i - 1]] = v;
    column(i).querySelector("input").value = v;
    select(i);
  }
  function select(i) { current.selected = i; update(); }

  // -- playback: one looping source per stimulus, all started together, one audible
  function position() {
    if (!current.playing) { return current.from; }
    const [a, b] = current.loop;
    const p = current.from + (ctx.currentTime - current.t0);
    return p < b ? p : a + ((p - b) % (b - a));
  }
  function stopSources() {
    for (const s of current ? current.sources : []) { try { s.stop(); } catch (e) { /* ended */ } }
    if (current) { current.sources = []; current.gains = []; }
  }
  function play(from) {
    stopSources();
    const [a, b] = current.loop;
    current.from = Math.min(Math.max(from, a), b - 0.01);
    current.t0 = ctx.currentTime + 0.03;
    current.buffers.forEach((buf, i) => {
      const src = ctx.createBufferSource(), gain = ctx.createGain();
      src.buffer = buf; src.loop = true; src.loopStart = a; src.loopEnd = b;
      gain.gain.value = i === current.active ? 1 : 0;
      src.connect(gain).connect(ctx.destination);
      src.start(current.t0, current.from);
      current.sources.push(src); current.gains.push(gain);
    });
    current.playing = true;
    current.played.add(current.active);
    update();
  }
  function stop() {
    if (!current) { return; }
    if (current.playing) { current.from = position(); }
    stopSources();
    current.playing = false;
    update();
  }
  function listen(i) {  // 0: the open reference, 1..n: the stimuli in this listener's order
    const before = current.active;
    current.active = i;
    if (i > 0) { current.selected = i; }
    if (!current.playing) { play(current.from); return; }
    const t = ctx.currentTime, g = current.gains;
    g[before].gain.setValueAtTime(1, t); g[before].gain.linearRampToValueAtTime(0, t + 0.005);
    g[i].gain.setValueAtTime(0, t); g[i].gain.linearRampToValueAtTime(1, t + 0.005);
    current.played.add(i);
    update();
  }
  function setLoop(a, b) {
    const dur = current.buffers[0].duration;
    a = Math.max(0, Math.min(a, dur - 0.2)); b = Math.min(dur, Math.max(b, a + 0.2));
    const p = position();
    current.loop = [a, b];
    $("loop-start").value = a.toFixed(1); $("loop-end").value = b.toFixed(1);
    if (current.playing) { play(p >= a && p < b ? p : a); } else { current.from = a; update(); }
  }

  function update() {
    if (!current) { return; }
    const dur = current.buffers[0].duration, [a, b] = current.loop, p = position();
    $("clock").textContent = p.toFixed(1) + " / " + dur.toFixed(1) + " s";
    $("playhead").style.left = (100 * p / dur) + "%";
    $("loop-region").style.left = (100 * a / dur) + "%";
    $("loop-region").style.width = (100 * (b - a) / dur) + "%";
    $("loop-text").textContent = a.toFixed(1) + " – " + b.toFixed(1) + " s";
    $("play").textContent = current.playing ? "■ Stop (Space)" : "▶ Play (Space)";
    $("ref").classList.toggle("active", current.active === 0);
    current.order.forEach((sid, k) => {
      const col = column(k + 1), button = col.querySelector("button");
      col.querySelector("output").textContent = String(current.ratings[sid]);
      button.classList.toggle("active", current.active === k + 1);
      button.classList.toggle("played", current.played.has(k + 1));
      col.classList.toggle("selected", current.selected === k + 1);
    });
    const missing = current.order.length - [...current.played].filter((i) => i > 0).length;
    $("next").disabled = missing > 0;
    if (missing > 0) { $("status").textContent = "listen to every stimulus first (" + missing + " left)"; }
    else if ($("status").textContent.startsWith("listen")) { $("status").textContent = ""; }
  }
  function tick() { if (current && current.playing) { update(); } requestAnimationFrame(tick); }

  // -- saving
  async function submit() {
    if (!current || $("next").disabled) { return; }
    if (current.training) {
      localStorage.setItem(KEY + ":" + record.listener + ":trained", "1");
      await nextTrial(false);
      return;
    }
    const result = { ratings: { ...current.ratings },
                     seconds: Math.round((performance.now() - current.started) / 100) / 10,
                     finished_utc: new Date().toISOString().slice(0, 19) + "Z" };
    if (server) {
      $("next").disabled = true;
      $("status").textContent = "saving…";
      try {
        const r = await fetch("api/ratings", { method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ test_id: TEST.test_id, listener: record.listener,
                                 plan: record.plan, trial: current.id, result: result }) });
        if (!r.ok) { throw new Error((await r.text()) || ("HTTP " + r.status)); }
      } catch (e) {
        $("status").textContent = "not saved (" + e.message + "); press Next to try again";
        $("next").disabled = false;
        return;
      }
    }
    record.trials[current.id] = result;
    local.save(record);
    await nextTrial(false);
  }
  function finish() {
    stop();
    current = null;
    $("saved-where").textContent = server
      ? "Your ratings are saved in the run folder; you may close this page."
      : "Your ratings are kept in this browser only: export them and send the file.";
    show("done");
  }
  function exportRatings() {
    if (!record) { return; }
    const blob = new Blob([JSON.stringify(record, null, 1)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "ratings-" + TEST.test_id + ".json";
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  // -- controls
  $("start").addEventListener("click", start);
  $("name").addEventListener("keydown", (e) => { if (e.key === "Enter") { start(); } });
  const when = (fn) => (e) => { if (current) { fn(e); } };
  $("play").addEventListener("click", when(() => { current.playing ? stop() : play(current.from); }));
  $("ref").addEventListener("click", when(() => { listen(0); }));
  $("next").addEventListener("click", submit);
  $("export").addEventListener("click", exportRatings);
  $("loop-start").addEventListener("input", when((e) => { setLoop(Number(e.target.value), current.loop[1]); }));
  $("loop-end").addEventListener("input", when((e) => { setLoop(current.loop[0], Number(e.target.value)); }));
  $("timeline").addEventListener("click", when((e) => {
    const box = e.currentTarget.getBoundingClientRect();
    const t = (e.clientX - box.left) / box.width * current.buffers[0].duration;
    current.playing ? play(t) : (current.from = t, update());
  }));
  document.addEventListener("keydown", (e) => {
    if ($("trial").hidden || !current || e.target === $("name") || e.ctrlKey || e.metaKey || e.altKey) { return; }
    const n = current.order.length, k = e.key;
    const actions = {
      " ": () => { current.playing ? stop() : play(current.from); },
      r: () => listen(0), R: () => listen(0),
      ArrowLeft: () => listen(Math.max(1, current.selected - 1)),
      ArrowRight: () => listen(Math.min(n, current.selected + 1)),
      ArrowUp: () => setRating(current.selected, current.ratings[current.order[current.selected - 1]] + 1),
      ArrowDown: () => setRating(current.selected, current.ratings[current.order[current.selected - 1]] - 1),
      PageUp: () => setRating(current.selected, current.ratings[current.order[current.selected - 1]] + 10),
      PageDown: () => setRating(current.selected, current.ratings[current.order[current.selected - 1]] - 10),
      "[": () => setLoop(position(), current.loop[1]),
      "]": () => setLoop(current.loop[0], position()),
      Enter: submit,
    };
    const digit = "1234567890".indexOf(k);
    if (digit >= 0 && digit < n) { e.preventDefault(); listen(digit + 1); return; }
    if (k in actions) { e.preventDefault(); actions[k](); }
  });

  // what a test (or a curious listener) can inspect
  window.mushra = { state: () => current && { trial: current.id, training: current.training,
    order: current.order, active: current.active, playing: current.playing,
    position: position(), ratings: { ...current.ratings } }, record: () => record };

  function welcome() {  // a listener who has begun continues where they stopped
    const known = $("name").value.trim() && local.load($("name").value.trim());
    $("start").textContent = known ? "Continue" : "Start";
    $("resume-note").textContent = known
      ? done(known) + " of " + TEST.trials.length + " trials rated so far." : "";
  }
  $("name").value = localStorage.getItem(KEY + ":last") || "";
  $("name").addEventListener("input", welcome);
  welcome();
  show("welcome");
  requestAnimationFrame(tick);
})();
