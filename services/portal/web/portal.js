// Frontdoor referrals portal: sign in with a token, make a referral, see its
// triage and follow its status; call handlers also get a worklist.
//
// Plain JavaScript, no framework and no build step. Everything the server
// sends is put in the page with textContent (never innerHTML), and the page
// runs under "Content-Security-Policy: default-src 'self'". The JSON API is
// described in docs/portal.md; field names follow protobuf's JSON mapping.
'use strict';

(() => {
  const TOKEN_KEY = 'frontdoor.portal.token';
  const POLL_MS = 3000;
  const CHANGED_MS = 15000;     // how long a changed row stays highlighted
  const LIST_PAGE = 25;         // referrals shown per "Show more"

  const RPC = {
    submit: '/frontdoor.v1.ReferralService/SubmitReferral',
    get: '/frontdoor.v1.ReferralService/GetReferral',
    list: '/frontdoor.v1.ReferralService/ListReferrals',
    events: '/frontdoor.v1.ReferralService/ListReferralEvents',
    worklist: '/frontdoor.v1.ReferralService/GetWorklist',
  };

  // --- Words for the API's enum values --------------------------------------

  const PATHWAYS = {
    PATHWAY_EMERGENCY_SERVICES: 'Emergency services (police or fire)',
    PATHWAY_ACUTE: 'Acute (emergency department or 999)',
    PATHWAY_CLINICAL_REVIEW: 'Clinical review by a senior clinician',
    PATHWAY_MATERNITY: 'Maternity',
    PATHWAY_PAEDIATRIC: 'Children and young people',
    PATHWAY_MENTAL_HEALTH_CRISIS: 'Mental health crisis',
    PATHWAY_PALLIATIVE: 'Palliative care',
    PATHWAY_UCR: 'Urgent community response',
    PATHWAY_VIRTUAL_WARD: 'Virtual ward',
    PATHWAY_COMMUNITY_NURSING: 'Community nursing',
    PATHWAY_PRIMARY_CARE: 'Primary care',
    PATHWAY_MENTAL_HEALTH_COMMUNITY: 'Community mental health',
    PATHWAY_SOCIAL_CARE: 'Social care',
    PATHWAY_ADVICE_ONLY: 'Advice only',
  };
  const URGENCIES = {
    URGENCY_IMMEDIATE: 'Immediate',
    URGENCY_WITHIN_1H: 'Within 1 hour',
    URGENCY_WITHIN_2H: 'Within 2 hours',
    URGENCY_WITHIN_4H: 'Within 4 hours',
    URGENCY_WITHIN_12H: 'Within 12 hours',
    URGENCY_WITHIN_24H: 'Within 24 hours',
    URGENCY_WITHIN_48H: 'Within 48 hours',
    URGENCY_WITHIN_72H: 'Within 72 hours',
    URGENCY_WITHIN_2W: 'Within 2 weeks',
    URGENCY_WITHIN_4W: 'Within 4 weeks',
    URGENCY_NONE: 'No target time',
  };
  const STATUSES = {
    REFERRAL_STATUS_RECEIVED: 'Received',
    REFERRAL_STATUS_AWAITING_TRIAGE: 'Awaiting triage',
    REFERRAL_STATUS_TRIAGED: 'Triaged',
    REFERRAL_STATUS_ACCEPTED: 'Accepted',
    REFERRAL_STATUS_REJECTED: 'Rejected',
    REFERRAL_STATUS_REDIRECTED: 'Redirected',
    REFERRAL_STATUS_RETURNED_WITH_ADVICE: 'Returned with advice',
    REFERRAL_STATUS_CLOSED: 'Closed',
    REFERRAL_STATUS_CANCELLED: 'Cancelled',
  };
  const SLA = {
    SLA_STATE_ON_TRACK: 'On track',
    SLA_STATE_WARNING_70: '70% of the time used',
    SLA_STATE_WARNING_90: '90% of the time used',
    SLA_STATE_BREACHED: 'Breached',
    SLA_STATE_NO_TARGET: 'No target time',
    SLA_STATE_MET: 'Met',
  };
  const ROLES = {
    ROLE_REFERRER: 'Referrer',
    ROLE_CALL_HANDLER: 'Call handler',
    ROLE_CLINICIAN: 'Clinician',
    ROLE_RULE_AUTHOR: 'Rule author',
    ROLE_SAFETY_OFFICER: 'Clinical safety officer',
    ROLE_SERVICE_MANAGER: 'Service manager',
    ROLE_AUDITOR: 'Auditor',
    ROLE_ADMIN: 'Administrator',
    ROLE_SERVICE: 'Service',
  };
  const EVENTS = {
    EVENT_TYPE_SUBMITTED: 'Submitted',
    EVENT_TYPE_TRIAGED: 'Triaged',
    EVENT_TYPE_AWAITING_TRIAGE: 'Waiting for triage',
    EVENT_TYPE_ACCEPTED: 'Accepted',
    EVENT_TYPE_REJECTED: 'Rejected',
    EVENT_TYPE_REDIRECTED: 'Redirected',
    EVENT_TYPE_RETURNED_WITH_ADVICE: 'Returned with advice',
    EVENT_TYPE_CLOSED: 'Closed',
    EVENT_TYPE_CANCELLED: 'Cancelled',
    EVENT_TYPE_OVERRIDDEN: 'Triage overridden by a clinician',
    EVENT_TYPE_DUPLICATE_LINKED: 'Linked to another referral',
    EVENT_TYPE_SLA_WARNING: 'Target time warning',
    EVENT_TYPE_SLA_BREACHED: 'Target time breached',
  };
  const FLAGS = {
    FLAG_NHS_NUMBER_INVALID: 'NHS number fails its check digit: trace it on PDS',
    FLAG_NHS_NUMBER_MISSING: 'No NHS number',
    FLAG_NEWS2_INCOMPLETE: 'NEWS2 incomplete: some observations not recorded',
    FLAG_NEWS2_NOT_APPLICABLE: 'NEWS2 not used (under 16 or pregnant)',
    FLAG_SPO2_SCALE2_WITHOUT_DOCUMENTED_TARGET: 'SpO2 scale 2 without a documented 88 to 92% target',
    FLAG_AGE_DOB_MISMATCH: 'Stated age does not match the date of birth',
    FLAG_STRUCTURED_FREE_TEXT_CONFLICT: 'The description contradicts an answer',
    FLAG_SAFEGUARDING_REFERRAL_SAME_DAY: 'Safeguarding referral today',
    FLAG_SAFEGUARDING_REFERRAL_IMMEDIATE: 'Safeguarding referral now',
    FLAG_SOCIAL_CARE_NEED: 'Social care need',
    FLAG_CLINICIAN_CONFIRMATION_REQUIRED: 'A clinician must confirm this outcome',
    FLAG_ADVANCE_CARE_PLAN: 'Advance care plan',
    FLAG_MISSING_DATA_REVIEW: 'Missing information could make this more urgent: clinical review',
    FLAG_UCR_CLOSED: 'Urgent community response is closed at this time',
    FLAG_CT_HEAD_WITHIN_8H: 'CT head scan within 8 hours',
    FLAG_MENTAL_HEALTH_LIAISON: 'Mental health liaison',
    FLAG_FRAILTY: 'Frailty',
    FLAG_CONTACT_ROUTE_MISSING: 'No phone number for the patient',
    FLAG_OBSERVATIONS_NEEDED: 'Observations needed',
  };

  // Options of the form's selects: [value, text]; "" is "not recorded".
  const OPTIONS = {
    sex: [['', 'Not recorded'], ['SEX_FEMALE', 'Female'], ['SEX_MALE', 'Male'],
      ['SEX_INDETERMINATE', 'Indeterminate'], ['SEX_NOT_KNOWN', 'Not known']],
    referrerType: [['', 'Select the referral source'], ['REFERRER_TYPE_GP', 'GP practice'],
      ['REFERRER_TYPE_NHS_111', 'NHS 111'], ['REFERRER_TYPE_AMBULANCE_999', '999 ambulance service'],
      ['REFERRER_TYPE_CARE_HOME', 'Care home'], ['REFERRER_TYPE_CARER', 'Carer or family'],
      ['REFERRER_TYPE_SOCIAL_CARE', 'Social care'], ['REFERRER_TYPE_SELF', 'The patient (self-referral)'],
      ['REFERRER_TYPE_HOSPITAL', 'Hospital'], ['REFERRER_TYPE_COMMUNITY_TEAM', 'Community team'],
      ['REFERRER_TYPE_OTHER', 'Other']],
    problem: [['', 'Select the main problem']].concat([
      'ACUTE_DETERIORATION', 'COLLAPSE', 'CHEST_PAIN', 'STROKE_SYMPTOMS', 'BREATHING_DIFFICULTY',
      'RESPIRATORY_INFECTION', 'COPD_EXACERBATION', 'SUSPECTED_INFECTION', 'FEVER', 'FALL',
      'HEAD_INJURY', 'ALLERGIC_REACTION', 'BLEEDING', 'BACK_PAIN', 'CONFUSION', 'FRAILTY_DECLINE',
      'REDUCED_MOBILITY', 'END_OF_LIFE_CARE', 'EQUIPMENT_NEED', 'CATHETER_PROBLEM', 'DIABETES',
      'CARER_BREAKDOWN', 'WOUND_CARE', 'POST_DISCHARGE_NURSING', 'ROUTINE_NURSING',
      'MEDICATION_SUPPLY', 'CHRONIC_CONDITION_REVIEW', 'MENTAL_HEALTH', 'SELF_HARM',
      'SAFEGUARDING', 'SOCIAL_CARE_NEED', 'PREGNANCY_PROBLEM', 'INFORMATION_REQUEST', 'OTHER',
    ].map((p) => ['PRESENTING_PROBLEM_' + p, words(p)])),
    spo2Scale: [['', 'Not recorded'], ['SP_O2_SCALE_SCALE_1', 'Scale 1'],
      ['SP_O2_SCALE_SCALE_2', 'Scale 2 (documented hypercapnic respiratory failure)']],
    oxygen: [['', 'Not recorded'], ['air', 'On air'], ['oxygen', 'On supplemental oxygen']],
    consciousness: [['', 'Not recorded'], ['CONSCIOUSNESS_ALERT', 'A: alert'],
      ['CONSCIOUSNESS_NEW_CONFUSION', 'C: new confusion'], ['CONSCIOUSNESS_VOICE', 'V: responds to voice'],
      ['CONSCIOUSNESS_PAIN', 'P: responds to pain'], ['CONSCIOUSNESS_UNRESPONSIVE', 'U: unresponsive']],
    pathway: Object.entries(PATHWAYS),
  };

  // "COPD_EXACERBATION" -> "COPD exacerbation": sentence case, keeping the
  // acronyms clinicians write in capitals.
  function words(name) {
    const keep = new Set(['COPD', 'NHS', 'NEWS2', 'UCR', 'CT', 'GP', 'PDS', 'SPO2', 'ACS', 'ECG']);
    return name.split('_').map((w, i) => {
      if (keep.has(w)) return w === 'SPO2' ? 'SpO2' : w;
      const lower = w.toLowerCase();
      return i === 0 ? lower.charAt(0).toUpperCase() + lower.slice(1) : lower;
    }).join(' ');
  }

  // The words for an enum value: from `table`, else made from its name.
  function label(table, value, prefix) {
    if (!value) return 'Not recorded';
    if (table[value]) return table[value];
    const problem = OPTIONS.problem.find(([v]) => v === value);
    if (problem) return problem[1];
    return words(prefix && value.startsWith(prefix) ? value.slice(prefix.length) : value);
  }

  // --- Small DOM helpers --------------------------------------------------

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  // h('p', {class: 'x'}, 'text', child...): an element; strings become text.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function announce(text) {
    const el = $('#announcer');
    el.textContent = '';
    // A fresh text node after a tick, so screen readers read it even when it
    // repeats the last message.
    setTimeout(() => { el.textContent = text; }, 50);
  }

  // --- Times -----------------------------------------------------------------

  const LONDON = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/London', day: 'numeric', month: 'short', year: 'numeric',
    hour: '2-digit', minute: '2-digit',
  });

  const LONDON_SHORT = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/London', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
  });

  // A timestamp in UK time; `short` leaves out the year (tables).
  function formatTime(iso, short) {
    if (!iso) return '';
    const d = new Date(iso);
    return isNaN(d) ? iso : (short ? LONDON_SHORT : LONDON).format(d);
  }

  function formatDuration(seconds) {
    const s = Math.abs(Math.round(seconds));
    const d = Math.floor(s / 86400);
    const hrs = Math.floor((s % 86400) / 3600);
    const min = Math.floor((s % 3600) / 60);
    if (d > 0) return `${d} d ${hrs} h`;
    if (hrs > 0) return `${hrs} h ${min} min`;
    if (min > 0) return `${min} min`;
    return 'under a minute';
  }

  // "in 1 h 59 min" or "breached 5 min ago", from a due time.
  function timeToBreach(dueIso) {
    if (!dueIso) return 'No target time';
    const seconds = (new Date(dueIso) - Date.now()) / 1000;
    return seconds >= 0 ? `${formatDuration(seconds)} left` : `Breached ${formatDuration(seconds)} ago`;
  }

  function targetText(minutes) {
    if (minutes === undefined || minutes === null) return '';
    const m = Number(minutes);
    if (m < 0) return 'No target time';
    if (m === 0) return 'Immediately';
    const plural = (n, unit) => `${n} ${unit}${n === 1 ? '' : 's'}`;
    if (m % 1440 === 0) return `Within ${plural(m / 1440, 'day')}`;
    if (m % 60 === 0) return `Within ${plural(m / 60, 'hour')}`;
    return `Within ${plural(m, 'minute')}`;
  }

  // --- The API -------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field || '';
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, {
        method, headers, cache: 'no-store', credentials: 'omit',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'UNAVAILABLE', 'The server could not be reached. Check your connection and try again.');
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : {}; } catch (e) { data = null; }
    if (!res.ok) {
      const err = (data && data.error) || {};
      throw new ApiError(res.status, err.code || '', err.message || `The server answered ${res.status}.`, err.field);
    }
    if (data === null) throw new ApiError(res.status, 'INTERNAL', 'The server sent an answer this page cannot read.');
    return data;
  }

  // --- Session -------------------------------------------------------------

  let me = null;            // WhoAmIResponse of the signed-in caller
  let pollTimer = null;
  let pollGeneration = 0;

  function allowed(method) {
    if (!me) return false;
    const methods = me.allowedMethods || [];
    return methods.includes(method);
  }

  const isReferrer = () => me && me.role === 'ROLE_REFERRER';

  function showSignedIn() {
    $('#who-principal').textContent = me.principal || 'unknown';
    $('#who-role').textContent = me.role ? `(${label(ROLES, me.role, 'ROLE_')})` : '';
    $('#account').hidden = false;
    $('#nav').hidden = false;
    $('#nav-submit').hidden = !allowed(RPC.submit);
    $('#nav-mine').hidden = !allowed(RPC.list);
    $('#nav-worklist').hidden = !allowed(RPC.worklist);
    const mine = isReferrer() ? 'My referrals' : 'Referrals';
    $('#nav-mine-link').textContent = mine;
    $('#referrals-title').textContent = mine;
    $('#referrals-lede').textContent = (isReferrer() ? 'The referrals you made' : 'Recent referrals') +
      ', newest first. This page updates itself every few seconds.';
  }

  async function signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    try {
      me = await api('GET', '/api/v1/whoami');
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      me = null;
      throw e;
    }
    showSignedIn();
  }

  // Forgets the token and clears every screen that held patient data.
  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    me = null;
    stopPolling();
    $('#account').hidden = true;
    $('#nav').hidden = true;
    $('#referral-form').reset();
    clearErrors($('#referral-form'), $('#submit-errors'));
    $('#result-body').replaceChildren();
    $('#result-reference').textContent = '';
    $('#referrals-table tbody').replaceChildren();
    $('#referrals-table').hidden = true;
    $('#referral-body').replaceChildren();
    $('#worklist-table tbody').replaceChildren();
    $('#worklist-table').hidden = true;
    lastResult = null;
    known.clear();
    listLoaded = false;
    listLimit = LIST_PAGE;
    shownVersion = null;
    if (location.hash && location.hash !== '#signin') {
      history.replaceState(null, '', '#signin');
    }
    showView('signin');
    const notice = $('#signin-notice');
    if (notice) notice.remove();
    if (message) {
      $('#signin-title').after(h('div', { class: 'inset-text', id: 'signin-notice', role: 'status' }, message));
    }
  }

  // A 401 anywhere: the token expired or was revoked.
  function handleAuthError(e) {
    if (e instanceof ApiError && e.status === 401) {
      signOut('Your session has ended: the token is no longer accepted. Sign in again.');
      return true;
    }
    return false;
  }

  // --- Views and routing -----------------------------------------------------

  const VIEWS = ['signin', 'submit', 'result', 'referrals', 'referral', 'worklist', 'nothing'];

  function showView(name) {
    for (const v of VIEWS) $(`#view-${v}`).hidden = v !== name;
    for (const a of $$('.nav__link')) {
      if (a.getAttribute('href') === `#${name}`) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  // Moves focus to the view's heading so screen readers announce the change.
  function focusHeading(name) {
    const h1 = $(`#view-${name} h1`);
    if (!h1) return;
    h1.setAttribute('tabindex', '-1');
    h1.focus();
  }

  function defaultView() {
    if (allowed(RPC.submit)) return 'submit';
    if (allowed(RPC.list)) return 'referrals';
    if (allowed(RPC.worklist)) return 'worklist';
    return 'nothing';
  }

  async function route(focus = true) {
    stopPolling();
    const hash = decodeURIComponent(location.hash.replace(/^#/, ''));
    if (!me) {
      showView('signin');
      if (focus) focusHeading('signin');
      return;
    }
    let [name, arg] = hash.split('/');
    const need = { submit: RPC.submit, result: RPC.submit, referrals: RPC.list, referral: RPC.get, worklist: RPC.worklist };
    if (!name || name === 'signin' || !(name in need) || !allowed(need[name])) name = defaultView();
    if (name === 'result' && !lastResult) name = 'submit';
    showView(name);
    document.title = `${$(`#view-${name} h1`).textContent} - Frontdoor referrals`;
    if (focus) focusHeading(name);
    if (name === 'referrals') startPolling(refreshReferrals);
    if (name === 'worklist') startPolling(refreshWorklist);
    if (name === 'referral') startPolling((current) => refreshReferral(arg || '', current));
  }

  // Calls refresh(current) now and every POLL_MS while the tab is visible,
  // until stopPolling or the next startPolling. `current()` turns false then,
  // so a refresh still waiting for the server does not draw over another
  // screen (or over a signed-out page).
  function startPolling(refresh) {
    const generation = ++pollGeneration;
    const current = () => generation === pollGeneration;
    const tick = async () => {
      if (!current()) return;
      if (!document.hidden) await refresh(current);
      if (current()) pollTimer = setTimeout(tick, POLL_MS);
    };
    tick();
  }

  function stopPolling() {
    pollGeneration++;
    clearTimeout(pollTimer);
    pollTimer = null;
  }

  // --- Errors on a form (NHS error summary + inline messages) ----------------

  function errorId(el) { return `${el.id}-error`; }

  function clearErrors(form, summary) {
    summary.hidden = true;
    $('ul', summary).replaceChildren();
    for (const m of $$('.error-message', form)) m.remove();
    for (const g of $$('.form-group--error', form)) g.classList.remove('form-group--error');
    for (const el of $$('[aria-invalid]', form)) {
      el.removeAttribute('aria-invalid');
      describe(el);
    }
    // The date of birth's fieldset: back to its hint alone.
    for (const group of $$('fieldset[role="group"]', form)) {
      group.setAttribute('aria-describedby', $('.hint', group).id);
    }
  }

  // aria-describedby of a control: its hint ("ID-hint") and its error
  // message ("ID-error"), if it has them.
  function describe(el) {
    const ids = [];
    const hint = document.getElementById(`${el.id}-hint`);
    if (hint) ids.push(hint.id);
    const err = el.hasAttribute('aria-invalid') && document.getElementById(errorId(el));
    if (err) ids.push(err.id);
    if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
    else el.removeAttribute('aria-describedby');
  }

  // errors: [{el, message, focus}] where el is an input, select, textarea or
  // the date group; focus is the control the summary link moves to.
  function showErrors(form, summary, errors) {
    clearErrors(form, summary);
    const list = $('ul', summary);
    for (const { el, message, focus } of errors) {
      const target = focus || el;
      const link = target
        ? h('a', { href: `#${target.id}`, onclick: (ev) => { ev.preventDefault(); target.focus(); } }, message)
        : message;
      list.append(h('li', {}, link));
      if (!el) continue;
      const group = el.closest('.form-group');
      group.classList.add('form-group--error');
      const msg = h('span', { class: 'error-message', id: errorId(el) },
        h('span', { class: 'visually-hidden' }, 'Error: '), message);
      if (el.classList.contains('form-group')) {
        // The date of birth: the message goes under the hint, each part is invalid.
        $('.hint', el).after(msg);
        for (const input of $$('input', el)) input.setAttribute('aria-invalid', 'true');
        const fieldset = $('fieldset', el);
        fieldset.setAttribute('aria-describedby', `${$('.hint', el).id} ${msg.id}`);
      } else {
        const hint = document.getElementById(`${el.id}-hint`);
        (hint || group.querySelector('label')).after(msg);
        el.setAttribute('aria-invalid', 'true');
        describe(el);
      }
    }
    summary.hidden = false;
    summary.focus();
  }

  // --- Sign in ---------------------------------------------------------------

  async function onSignIn(ev) {
    ev.preventDefault();
    const form = $('#signin-form');
    const input = $('#token');
    const summary = $('#signin-errors');
    const token = input.value.trim().replace(/^Bearer\s+/i, '');
    if (!token) {
      showErrors(form, summary, [{ el: input, message: 'Enter your access token' }]);
      return;
    }
    const button = $('#signin-button');
    button.disabled = true;
    try {
      await signIn(token);
      input.value = '';
      clearErrors(form, summary);
      const notice = $('#signin-notice');
      if (notice) notice.remove();
      announce(`Signed in as ${me.principal}`);
      if (!location.hash || location.hash === '#signin') history.replaceState(null, '', `#${defaultView()}`);
      route();
    } catch (e) {
      const message = e.status === 401
        ? 'The access token was not recognised. Check it and try again.'
        : `Could not sign in: ${e.message}`;
      showErrors(form, summary, [{ el: input, message }]);
    } finally {
      button.disabled = false;
    }
  }

  // --- Make a referral: the page's own checks ---------------------------------

  // The Modulus 11 check of an NHS number (10 digits, not all the same).
  function validNhsNumber(n) {
    if (!/^\d{10}$/.test(n) || /^(\d)\1{9}$/.test(n)) return false;
    let sum = 0;
    for (let i = 0; i < 9; i++) sum += Number(n[i]) * (10 - i);
    let check = 11 - (sum % 11);
    if (check === 11) check = 0;
    return check !== 10 && check === Number(n[9]);
  }

  // The outward code of a postcode: "ls6 3hn" -> "LS6", "LS63HN" -> "LS6".
  function postcodeDistrict(text) {
    const t = text.toUpperCase().replace(/\s+/g, ' ').trim();
    if (t.includes(' ')) return t.split(' ')[0];
    const full = /^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$/.exec(t);
    return full ? full[1] : t;
  }

  const utf8Length = (s) => new TextEncoder().encode(s).length;

  // Reads the form into a Referral (JSON mapping) and the errors the page can
  // find itself. The ranges and required fields match the server's
  // validation (services/referral/validation.cc); the server checks again.
  function readReferral(form) {
    const errors = [];
    const val = (id) => $(`#${id}`, form).value.trim();
    const fail = (id, message) => errors.push({ el: $(`#${id}`, form), message });

    const patient = {};
    const nhs = val('nhs-number').replace(/[\s-]/g, '');
    if (nhs) {
      if (!/^\d{10}$/.test(nhs)) fail('nhs-number', 'NHS number must be 10 digits');
      else if (!validNhsNumber(nhs)) fail('nhs-number', 'This is not a valid NHS number: check the digits, or leave it blank if you do not know it');
      patient.nhsNumber = nhs;
    }

    const [day, month, year] = ['dob-day', 'dob-month', 'dob-year'].map(val);
    if (day || month || year) {
      const group = $('#dob-group', form);
      const parts = [[day, 'day', 'dob-day'], [month, 'month', 'dob-month'], [year, 'year', 'dob-year']];
      const missing = parts.filter(([v]) => !v);
      const dob = { year: Number(year), month: Number(month), day: Number(day) };
      const date = new Date(Date.UTC(dob.year, dob.month - 1, dob.day));
      if (missing.length) {
        errors.push({ el: group, focus: $(`#${missing[0][2]}`, form), message: `Date of birth must include a ${missing.map(([, n]) => n).join(' and ')}` });
      } else if (!parts.every(([v]) => /^\d+$/.test(v)) || year.length !== 4 ||
                 date.getUTCFullYear() !== dob.year || date.getUTCMonth() !== dob.month - 1 || date.getUTCDate() !== dob.day) {
        errors.push({ el: group, focus: $('#dob-day', form), message: 'Date of birth must be a real date' });
      } else if (dob.year < 1900) {
        errors.push({ el: group, focus: $('#dob-year', form), message: 'Date of birth must be in 1900 or later' });
      } else if (date.getTime() > Date.now()) {
        errors.push({ el: group, focus: $('#dob-day', form), message: 'Date of birth must be today or in the past' });
      }
      patient.dateOfBirth = dob;
    }

    const age = val('stated-age');
    if (age) {
      if (!/^\d+$/.test(age) || Number(age) > 130) fail('stated-age', 'Age must be a whole number of years, 0 to 130');
      patient.statedAgeYears = Number(age);
    }
    if (val('sex')) patient.sex = val('sex');
    const postcode = val('postcode');
    if (postcode) {
      const district = postcodeDistrict(postcode);
      if (!/^[A-Z0-9]{1,4}$/.test(district)) fail('postcode', 'Enter the first part of the postcode, for example LS6');
      patient.postcodeDistrict = district;
    }
    const text = (id, key, max, what, into) => {
      const v = val(id);
      if (!v) return;
      if (utf8Length(v) > max) fail(id, `${what} must be ${max} characters or fewer`);
      into[key] = v;
    };
    text('patient-phone', 'contactPhone', 32, 'Phone number', patient);

    const referrer = {};
    if (val('referrer-type')) referrer.type = val('referrer-type');
    else fail('referrer-type', 'Select the referral source');
    text('referrer-name', 'name', 200, 'Your name and role', referrer);
    text('referrer-org', 'organisationCode', 16, 'Organisation code', referrer);
    text('referrer-phone', 'contactPhone', 32, 'Your phone number', referrer);

    const referral = { patient, referrer };
    if (val('problem')) referral.problem = val('problem');
    else fail('problem', 'Select the main problem');
    text('free-text', 'freeText', 20000, 'The description', referral);

    const obs = {};
    for (const el of $$('[data-range]', form)) {
      const v = el.value.trim();
      if (!v) continue;
      const [lo, hi] = el.dataset.range.split(',').map(Number);
      const key = el.dataset.field.split('.').pop();
      obs[key] = Number(v);
      if (!/^\d+$/.test(v)) fail(el.id, `${el.dataset.label} must be a whole number`);
      else if (obs[key] < lo || obs[key] > hi) fail(el.id, `${el.dataset.label} must be between ${lo} and ${hi} ${el.dataset.unit}`);
    }
    if (val('spo2-scale')) obs.spo2Scale = val('spo2-scale');
    if (val('oxygen')) obs.onSupplementalOxygen = val('oxygen') === 'oxygen';
    if (val('consciousness')) obs.consciousness = val('consciousness');
    const temp = val('temperature');
    if (temp) {
      const t = Number(temp);
      obs.temperatureCelsius = t;
      if (!/^\d+(\.\d+)?$/.test(temp)) fail('temperature', 'Temperature must be a number, for example 37.2');
      else if (t >= 86 && t <= 110) fail('temperature', 'That looks like degrees Fahrenheit: enter degrees Celsius, 30.0 to 43.0');
      else if (t < 30 || t > 43) fail('temperature', 'Temperature must be between 30.0 and 43.0 degrees Celsius');
      else if (!/^\d+(\.\d)?$/.test(temp)) fail('temperature', 'Temperature must have one decimal place at most, for example 37.2');
    }
    if (Object.keys(obs).length) referral.observations = obs;
    return { referral, errors };
  }

  // The page's checks can be switched off (data-client-checks="off" on
  // <html>) so tests can show what the server itself rejects.
  const clientChecks = () => document.documentElement.dataset.clientChecks !== 'off';

  // An error from the server: "referral.observations.spo2_percent" (or the
  // lowerCamel form, or a path at the start of the message) -> the control
  // with that data-field, or its nearest parent path.
  function serverError(form, e) {
    let field = e.field;
    let message = e.message;
    const lead = /^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*): (.*)$/s.exec(message);
    if (lead && (!field || toCamel(lead[1]) === toCamel(field))) {
      field = field || lead[1];
      message = lead[2];
    }
    field = toCamel(field || '');
    if (field && !field.startsWith('referral.')) field = `referral.${field}`;
    for (let path = field; path; path = path.slice(0, Math.max(0, path.lastIndexOf('.')))) {
      const el = form.querySelector(`[data-field="${CSS.escape(path)}"]`);
      if (el) {
        const name = el.classList.contains('form-group')
          ? $('legend', el).textContent.trim()
          : $(`label[for="${el.id}"]`).textContent.replace(/\s*\(required\)$/, '').trim();
        return { el, focus: el.classList.contains('form-group') ? $('input', el) : el, message: `${name}: ${message}` };
      }
      if (!path.includes('.')) break;
    }
    return { el: null, message: e.message };
  }

  function toCamel(path) {
    return path.split('.').map((s) => s.replace(/_([a-z0-9])/g, (m, c) => c.toUpperCase())).join('.');
  }

  let requestId = null;     // kept until a submission succeeds, so a retry is not a second referral
  let lastResult = null;    // the last SubmitReferralResponse

  function newRequestId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return 'portal-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  async function onSubmit(ev) {
    ev.preventDefault();
    const form = $('#referral-form');
    const summary = $('#submit-errors');
    const { referral, errors } = readReferral(form);
    if (errors.length && clientChecks()) {
      showErrors(form, summary, errors);
      return;
    }
    clearErrors(form, summary);
    const button = $('#submit-button');
    button.disabled = true;
    button.textContent = 'Sending...';
    requestId = requestId || newRequestId();
    try {
      const response = await api('POST', '/api/v1/referrals', { requestId, referral });
      requestId = null;
      lastResult = response;
      renderResult(response);
      form.reset();
      location.hash = '#result';
      announce('Referral sent');
    } catch (e) {
      if (handleAuthError(e)) return;
      if (e.status === 400) showErrors(form, summary, [serverError(form, e)]);
      else if (e.status === 403) showErrors(form, summary, [{ el: null, message: 'You are not allowed to make referrals.' }]);
      else showErrors(form, summary, [{ el: null, message: `The referral was not sent: ${e.message}` }]);
    } finally {
      button.disabled = false;
      button.textContent = 'Send referral';
    }
  }

  // --- A referral's outcome and why --------------------------------------------

  const URGENCY_TAG = (u) => {
    if (['URGENCY_IMMEDIATE', 'URGENCY_WITHIN_1H'].includes(u)) return 'tag--red';
    if (['URGENCY_WITHIN_2H', 'URGENCY_WITHIN_4H'].includes(u)) return 'tag--orange';
    if (['URGENCY_WITHIN_12H', 'URGENCY_WITHIN_24H'].includes(u)) return 'tag--yellow';
    return 'tag--grey';
  };
  const STATUS_TAG = (s) => ({
    REFERRAL_STATUS_ACCEPTED: 'tag--green', REFERRAL_STATUS_CLOSED: 'tag--grey',
    REFERRAL_STATUS_CANCELLED: 'tag--grey', REFERRAL_STATUS_REJECTED: 'tag--red',
    REFERRAL_STATUS_AWAITING_TRIAGE: 'tag--orange', REFERRAL_STATUS_RETURNED_WITH_ADVICE: 'tag--purple',
  })[s] || 'tag--blue';
  const SLA_TAG = (s) => ({
    SLA_STATE_BREACHED: 'tag--red', SLA_STATE_WARNING_90: 'tag--orange',
    SLA_STATE_WARNING_70: 'tag--yellow', SLA_STATE_MET: 'tag--green',
  })[s] || 'tag--grey';

  const tag = (cls, text, attrs = {}) => h('strong', Object.assign({ class: `tag ${cls}` }, attrs), text);
  const statusTag = (s) => tag(STATUS_TAG(s), label(STATUSES, s, 'REFERRAL_STATUS_'), { 'data-status': s || '' });
  const urgencyTag = (u) => tag(URGENCY_TAG(u), label(URGENCIES, u, 'URGENCY_'));

  function summaryList(rows, id) {
    return h('dl', { class: 'summary-list', id },
      rows.filter(Boolean).map(([key, value, name]) => h('div', { class: 'summary-list__row', 'data-row': name },
        h('dt', { class: 'summary-list__key' }, key),
        h('dd', { class: 'summary-list__value' }, value))));
  }

  function ruleText(row) {
    let s = `${row.table}/${row.row}`;
    if (row.pathway) s += `: ${label(PATHWAYS, row.pathway, 'PATHWAY_')}, ${label(URGENCIES, row.urgency, 'URGENCY_').toLowerCase()}`;
    return s;
  }

  function ruleItem(row) {
    return h('li', {},
      h('span', { class: 'rule' }, ruleText(row)),
      row.safetyCritical ? [' ', tag('tag--red', 'Safety-critical')] : null,
      row.note ? h('span', { class: 'rule__note' }, row.note) : null,
      row.source ? h('span', { class: 'rule__source' }, `Source: ${row.source}`) : null,
      row.missingInputs && row.missingInputs.length ? h('span', { class: 'rule__source' }, `Needs: ${row.missingInputs.join(', ')}`) : null);
  }

  // The reasons for a decision: the decisive row, missing data that could
  // change it, an override, scores, flags, every row that matched, and the
  // rule set version.
  function renderWhy(record) {
    const d = record.decision;
    const out = [h('h2', {}, 'Why this outcome')];
    if (!d || record.status === 'REFERRAL_STATUS_AWAITING_TRIAGE') {
      out.push(h('p', {}, 'Triage could not run yet. The referral is on the clinical review worklist and will be triaged as soon as possible.'));
      return h('div', { class: 'why', id: 'why' }, out);
    }
    const fired = d.fired || [];
    const decisive = fired.find((r) => r.decisive);
    if (decisive) {
      out.push(h('p', {}, 'The deciding rule:'), h('ul', { class: 'list list--rules', id: 'why-decisive' }, ruleItem(decisive)));
    } else if (d.decisiveRow === 'fallback') {
      out.push(h('p', { id: 'why-decisive' }, 'No rule gave an outcome, so the rule set\'s fallback applies.'));
    } else if (d.decisiveRow) {
      out.push(h('p', { id: 'why-decisive' }, `The deciding rule: ${d.decisiveRow}`));
    }
    if (d.couldEscalate && d.couldEscalate.length) {
      out.push(h('div', { class: 'inset-text', id: 'why-missing' },
        h('p', {}, `Some information was not given that could make this more urgent (${(d.missingInputs || []).join(', ')}), so a clinician will review the referral.`),
        h('ul', { class: 'list list--rules' }, d.couldEscalate.map(ruleItem))));
    }
    if (d.override) {
      const o = d.override;
      out.push(h('p', {}, `Rule ${o.byRow} replaced ${label(PATHWAYS, o.fromPathway, 'PATHWAY_')}, ${label(URGENCIES, o.fromUrgency, 'URGENCY_').toLowerCase()} (${o.fromRow})` +
        (o.loweredSafetyCritical ? ': a safety-critical outcome was lowered.' : '.')));
    }
    const scores = d.scores || [];
    if (scores.length) {
      out.push(summaryList(scores.map((s) => [s.name, s.complete
        ? String(s.value || 0)
        : `At least ${s.value || 0}, up to ${s.highestPossible || 0} (not recorded: ${(s.missingInputs || []).join(', ')})`]), 'why-scores'));
    }
    if (d.flags && d.flags.length) {
      out.push(h('h3', {}, 'Flags'), h('ul', { class: 'list list--bullet', id: 'why-flags' },
        d.flags.map((f) => h('li', {}, label(FLAGS, f, 'FLAG_')))));
    }
    const others = fired.filter((r) => !r.decisive);
    if (others.length) {
      out.push(h('details', { class: 'details' },
        h('summary', { class: 'details__summary' }, `Other rules that matched (${others.length})`),
        h('ul', { class: 'list list--rules' }, others.map(ruleItem))));
    }
    if (d.ruleSetVersion) {
      out.push(h('p', { class: 'small' }, `Rule set ${d.ruleSetName} version ${d.ruleSetVersion.slice(0, 12)}`));
    }
    return h('div', { class: 'why', id: 'why' }, out);
  }

  function respondBy(record) {
    if (!record.dueAt) return 'No target time';
    if (record.urgency === 'URGENCY_IMMEDIATE') return 'Now';
    return `${formatTime(record.dueAt)} (${timeToBreach(record.dueAt).toLowerCase()})`;
  }

  // For an immediate outcome the referrer must not wait for the service.
  function immediateCallout(record) {
    if (record.urgency !== 'URGENCY_IMMEDIATE') return null;
    return h('div', { class: 'care-card care-card--immediate', id: 'immediate-callout' },
      h('h2', { class: 'care-card__heading' }, h('span', { class: 'visually-hidden' }, 'Immediate action required: '),
        'This needs an emergency response now'),
      h('p', {}, 'If you are with the patient and they are getting worse or in danger, call 999 now. Do not wait to be contacted.'));
  }

  function recordSummary(record, withStatus) {
    const d = record.decision || {};
    const service = record.service || {};
    return summaryList([
      withStatus && ['Status', statusTag(record.status), 'status'],
      ['Pathway', label(PATHWAYS, record.pathway, 'PATHWAY_'), 'pathway'],
      ['Urgency', urgencyTag(record.urgency), 'urgency'],
      // The JSON mapping leaves out zeros: a decision without targetMinutes
      // has a target of 0 minutes (immediate).
      ['Target response time', record.decision ? targetText(d.targetMinutes || 0) : 'Not triaged yet', 'target'],
      ['Respond by', respondBy(record), 'due'],
      ['Service', service.serviceId
        ? [h('span', { class: 'service-name' }, service.serviceName || service.serviceId),
          service.catchAll ? ' (no specific service fitted)' : '',
          service.explanation ? h('span', { class: 'rule__note' }, service.explanation) : null]
        : 'Not assigned yet', 'service'],
      record.overridden && ['Overridden', 'A clinician changed the triage outcome', 'overridden'],
      record.statusReason && ['Note', record.statusReason, 'reason'],
      ['Received', formatTime(record.receivedAt), 'received'],
      record.linkedReferrals && record.linkedReferrals.length &&
        ['Linked referrals', record.linkedReferrals.join(', '), 'linked'],
    ], 'summary');
  }

  // The fields of a server warning: "referral.patient.nhs_number: fails ..." -> words.
  function warningText(w) {
    const m = /^([a-z_.]+): (.*)$/s.exec(w);
    if (!m) return w;
    const el = $(`[data-field="${CSS.escape(toCamel(m[1]))}"]`);
    const name = el && el.id ? $(`label[for="${el.id}"]`).textContent.trim() : words(m[1].split('.').pop().toUpperCase());
    return `${name}: ${m[2]}`;
  }

  function renderResult(response) {
    const record = response.record || {};
    $('#result-reference').textContent = record.id || '';
    const parts = [immediateCallout(record), recordSummary(record, true)].filter(Boolean);
    if (response.replayed) {
      parts.unshift(h('div', { class: 'inset-text' }, 'This referral had already been sent: this is the first result, nothing new was stored.'));
    }
    if (response.warnings && response.warnings.length) {
      parts.push(h('div', { class: 'warning-callout', id: 'result-warnings' },
        h('h2', { class: 'warning-callout__label' }, h('span', { role: 'text' }, h('span', { class: 'visually-hidden' }, 'Important: '), 'Check this')),
        h('ul', { class: 'list list--bullet' }, response.warnings.map((w) => h('li', {}, warningText(w))))));
    }
    parts.push(renderWhy(record));
    $('#result-body').replaceChildren(...parts);
  }

  // --- One referral ----------------------------------------------------------

  let shownVersion = null;

  async function refreshReferral(reference, current) {
    const body = $('#referral-body');
    const ref = reference.toUpperCase();
    $('#referral-title').textContent = `Referral ${ref}`;
    try {
      const record = await api('GET', `/api/v1/referrals/${encodeURIComponent(ref)}`);
      if (!current()) return;
      const key = `${record.id}@${record.version}`;
      if (shownVersion === key && body.childElementCount) return;
      let events = null;
      if (allowed(RPC.events)) {
        try {
          events = (await api('GET', `/api/v1/referrals/${encodeURIComponent(ref)}/events`)).events || [];
        } catch (e) {
          if (handleAuthError(e)) return;
        }
        if (!current()) return;
      }
      const changed = shownVersion !== null && shownVersion.startsWith(`${record.id}@`);
      shownVersion = key;
      $('#referral-title').textContent = `Referral ${record.id}`;
      const parts = [immediateCallout(record), recordSummary(record, true), renderWhy(record)].filter(Boolean);
      if (events) {
        parts.push(h('h2', {}, 'History'), h('ol', { class: 'timeline', id: 'events' }, events.map((ev) =>
          h('li', {}, h('span', { class: 'timeline__time' }, formatTime(ev.at)), ' ',
            h('strong', {}, label(EVENTS, ev.type, 'EVENT_TYPE_')),
            ev.actor ? ` by ${ev.actor}` : '',
            ev.reason ? h('span', { class: 'rule__note' }, ev.reason) : null))));
      }
      body.replaceChildren(...parts);
      if (changed) announce(`Referral ${record.id} is now ${label(STATUSES, record.status, 'REFERRAL_STATUS_')}`);
    } catch (e) {
      if (!current() || handleAuthError(e)) return;
      shownVersion = null;
      if (e.status === 403 || e.status === 404 || e.status === 400) {
        // The same words for "not there" and "not yours": whether another
        // referrer's referral exists is not ours to tell.
        body.replaceChildren(h('div', { class: 'error-summary error-summary--plain', id: 'referral-not-found', role: 'alert' },
          h('h2', { class: 'error-summary__title' }, 'Referral not found'),
          h('p', {}, `There is no referral with the reference ${ref} that you can see. Check the reference and try again.`)));
        stopPolling();
      } else {
        body.replaceChildren(h('p', { class: 'status-line status-line--error' }, `Could not load the referral: ${e.message}`));
      }
    }
  }

  // --- My referrals ----------------------------------------------------------

  const known = new Map();     // id -> {status, version, changedAt}
  let listLimit = LIST_PAGE;
  let listLoaded = false;

  async function loadReferrals() {
    const referrals = [];
    let token = '';
    // A page may be short when the server skips other referrers' records;
    // follow the tokens until there are enough (bounded).
    for (let i = 0; i < 10 && referrals.length < listLimit; i++) {
      const q = new URLSearchParams({ pageSize: String(listLimit - referrals.length) });
      if (token) q.set('pageToken', token);
      const page = await api('GET', `/api/v1/referrals?${q}`);
      referrals.push(...(page.referrals || []));
      token = page.nextPageToken || '';
      if (!token) break;
    }
    return { referrals, more: Boolean(token) };
  }

  async function refreshReferrals(current = () => true) {
    const status = $('#referrals-status');
    let result;
    try {
      result = await loadReferrals();
    } catch (e) {
      if (!current() || handleAuthError(e)) return;
      status.textContent = `Could not update the list: ${e.message}. Trying again.`;
      status.classList.add('status-line--error');
      return;
    }
    if (!current()) return;
    status.classList.remove('status-line--error');
    const { referrals, more } = result;
    referrals.sort((a, b) => String(b.receivedAt).localeCompare(String(a.receivedAt)));
    const now = Date.now();
    const news = [];
    for (const r of referrals) {
      const before = known.get(r.id);
      const entry = { status: r.status, version: r.version, changedAt: before ? before.changedAt : 0 };
      if (listLoaded && (!before || before.status !== r.status)) {
        entry.changedAt = now;
        news.push(before
          ? `Referral ${r.id} is now ${label(STATUSES, r.status, 'REFERRAL_STATUS_')}`
          : `New referral ${r.id}`);
      }
      known.set(r.id, entry);
    }
    listLoaded = true;
    const rows = referrals.map((r) => {
      const entry = known.get(r.id);
      const changed = now - entry.changedAt < CHANGED_MS;
      return h('tr', { class: changed ? 'row--changed' : '', 'data-id': r.id },
        h('td', { class: 'cell-reference' }, h('a', { href: `#referral/${r.id}` }, r.id)),
        h('td', {}, formatTime(r.receivedAt, true)),
        h('td', {}, label({}, (r.referral || {}).problem, 'PRESENTING_PROBLEM_')),
        h('td', {}, label(PATHWAYS, r.pathway, 'PATHWAY_')),
        h('td', {}, urgencyTag(r.urgency)),
        h('td', { class: 'cell-status' }, statusTag(r.status), changed ? [' ', h('span', { class: 'changed-note' }, 'Updated')] : null),
        h('td', {}, r.dueAt ? formatTime(r.dueAt, true) : 'No target'));
    });
    $('#referrals-table tbody').replaceChildren(...rows);
    $('#referrals-table').hidden = rows.length === 0;
    $('#referrals-more').hidden = !more;
    status.textContent = rows.length === 0
      ? 'There are no referrals to show yet.'
      : `Updated ${new Date().toLocaleTimeString('en-GB', { timeZone: 'Europe/London' })}.`;
    if (news.length) announce(news.join('. '));
  }

  // --- Worklist ----------------------------------------------------------------

  const WORKLIST_KEY = 'frontdoor.portal.pathway';

  async function refreshWorklist(current) {
    const select = $('#worklist-pathway');
    const pathway = select.value;
    const status = $('#worklist-status');
    let entries;
    try {
      const page = await api('GET', `/api/v1/worklists/${encodeURIComponent(pathway)}?pageSize=200`);
      entries = page.entries || [];
    } catch (e) {
      if (!current() || handleAuthError(e)) return;
      status.textContent = `Could not update the worklist: ${e.message}. Trying again.`;
      status.classList.add('status-line--error');
      return;
    }
    if (!current() || select.value !== pathway) return;  // the pathway changed meanwhile
    status.classList.remove('status-line--error');
    // Nearest to breach first; no target time last.
    const due = (e) => (e.dueAt ? new Date(e.dueAt).getTime() : Infinity);
    entries.sort((a, b) => due(a) - due(b));
    const rows = entries.map((e) => h('tr', { 'data-id': e.id, 'data-due': e.dueAt || '', class: e.sla === 'SLA_STATE_BREACHED' ? 'row--breached' : '' },
      h('td', { class: 'cell-reference' }, h('a', { href: `#referral/${e.id}` }, e.id)),
      h('td', {}, tag(SLA_TAG(e.sla), timeToBreach(e.dueAt), { title: label(SLA, e.sla, 'SLA_STATE_') }),
        e.missingDataReview ? h('span', { class: 'rule__note' }, 'Missing data: review') : null),
      h('td', {}, urgencyTag(e.urgency)),
      h('td', {}, label({}, e.problem, 'PRESENTING_PROBLEM_')),
      h('td', {}, statusTag(e.status)),
      h('td', { class: 'cell-service' }, e.serviceId || ''),
      h('td', {}, formatTime(e.receivedAt, true))));
    $('#worklist-table tbody').replaceChildren(...rows);
    $('#worklist-table').hidden = rows.length === 0;
    status.textContent = rows.length === 0
      ? `No open referrals on ${label(PATHWAYS, pathway, 'PATHWAY_')}.`
      : `${rows.length} open, updated ${new Date().toLocaleTimeString('en-GB', { timeZone: 'Europe/London' })}.`;
  }

  // --- Start ---------------------------------------------------------------

  function fillSelects() {
    for (const select of $$('select[data-options]')) {
      select.replaceChildren(...OPTIONS[select.dataset.options].map(([value, text]) => h('option', { value }, text)));
    }
    const pathway = sessionStorage.getItem(WORKLIST_KEY);
    if (pathway && PATHWAYS[pathway]) $('#worklist-pathway').value = pathway;
  }

  async function start() {
    fillSelects();
    for (const el of $$('input, select, textarea')) describe(el);
    $('#signin-form').addEventListener('submit', onSignIn);
    $('#referral-form').addEventListener('submit', onSubmit);
    $('#sign-out').addEventListener('click', () => signOut('You have signed out.'));
    $('#referrals-more-button').addEventListener('click', () => { listLimit += LIST_PAGE; refreshReferrals(); });
    $('#open-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const ref = $('#open-reference').value.replace(/\s+/g, '').toUpperCase();
      if (ref) location.hash = `#referral/${encodeURIComponent(ref)}`;
    });
    $('#worklist-pathway').addEventListener('change', () => {
      sessionStorage.setItem(WORKLIST_KEY, $('#worklist-pathway').value);
      $('#worklist-table tbody').replaceChildren();
      $('#worklist-table').hidden = true;
      route(false);
    });
    window.addEventListener('hashchange', () => { shownVersion = null; route(); });

    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) {
      try {
        await signIn(token);
      } catch (e) {
        if (e.status !== 401) {
          // Keep the token: the server may be restarting. Say so on sign in.
          sessionStorage.setItem(TOKEN_KEY, token);
          showView('signin');
          $('#signin-title').after(h('div', { class: 'inset-text', id: 'signin-notice', role: 'status' },
            `Could not reach the server to check your sign-in: ${e.message}`));
          return;
        }
        signOut('Your session has ended: the token is no longer accepted. Sign in again.');
        return;
      }
    }
    route(false);
  }

  document.addEventListener('DOMContentLoaded', start);
})();
