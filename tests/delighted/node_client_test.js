// The Delighted facade through Delighted's official Node client, delighted@2.2.0 from npm,
// unchanged but for its host, port, base and scheme options. Run by client_test.py (case 12)
// against the server it started: DELIGHTED_URL (http://127.0.0.1:PORT), DELIGHTED_KEY.
// Prints one line per check and exits non-zero on the first failure.
'use strict';

const assert = require('assert');
const createClient = require('delighted');

const url = new URL(process.env.DELIGHTED_URL);
const options = { host: url.hostname, port: url.port, base: '/delighted/v1', scheme: 'http' };
const delighted = createClient(process.env.DELIGHTED_KEY, options);
const stamp = Date.now();

async function expectError(type, call, what) {
  try {
    await call();
  } catch (err) {
    assert.strictEqual(err.type, type, `${what}: ${err.type} ${err.message}`);
    return;
  }
  assert.fail(`${what}: no ${type}`);
}

async function main() {
  // Person.create: stored only, with properties; then one emailed after a delay.
  const kept = await delighted.person.create({
    email: `node-kept-${stamp}@example.com`, name: 'Node Kept', send: false,
    properties: { agent: 'bo', team: 'blue' },
  });
  assert.ok(kept.id, `person id in ${JSON.stringify(kept)}`);
  assert.strictEqual(kept.email, `node-kept-${stamp}@example.com`);
  assert.strictEqual(kept.survey_scheduled_at, null, 'send: false schedules nothing');
  const before = Math.floor(Date.now() / 1000);
  const later = await delighted.person.create({ email: `node-later-${stamp}@example.com`, delay: 3600 });
  assert.ok(Math.abs(later.survey_scheduled_at - (before + 3600)) <= 5,
    `survey_scheduled_at ${later.survey_scheduled_at} is about an hour ahead`);
  console.log('ok person.create: send false and delay');

  // Person.list pages through the Link header (absolute URLs) with autoPagingEach.
  for (let i = 0; i < 3; i++) {
    await delighted.person.create({ email: `node-page-${i}-${stamp}@example.com`, send: false });
  }
  const seen = [];
  await delighted.person.list({ per_page: 2 }).autoPagingEach((p) => { seen.push(p.email); });
  for (const e of [kept.email, later.email, `node-page-2-${stamp}@example.com`]) {
    assert.ok(seen.includes(e), `${e} listed across pages (saw ${seen.length})`);
  }
  assert.strictEqual(new Set(seen).size, seen.length, 'no person listed twice');
  console.log(`ok person.list: ${seen.length} people over pages of 2`);

  // SurveyResponse.create / retrieve / all, and save() of notes and tags.
  const created = await delighted.surveyResponse.create({ person: kept.id, score: 9, comment: 'from node' });
  assert.strictEqual(created.score, 9);
  assert.strictEqual(created.comment, 'from node');
  const fetched = await delighted.surveyResponse.retrieve(created.id, { 'expand[]': 'person' });
  assert.strictEqual(fetched.person.email, kept.email, 'expand[]=person gives the person');
  const all = await delighted.surveyResponse.all({ per_page: 100 });
  assert.ok(all.some((r) => r.id === created.id), 'the new response is listed');
  fetched.tags = ['node', 'vip'];
  fetched.notes = ['called back'];
  const saved = await fetched.save();
  assert.deepStrictEqual(saved.tags, ['node', 'vip'], `save() kept tags ${JSON.stringify(saved.tags)}`);
  assert.strictEqual(saved.score, 9, 'save() leaves the score alone');
  console.log('ok surveyResponse: create, retrieve with person, all, save tags and notes');

  // Metrics count the promoter just recorded.
  const metrics = await delighted.metrics.retrieve();
  assert.ok(metrics.response_count >= 1 && metrics.promoter_count >= 1,
    `metrics ${JSON.stringify(metrics)}`);
  console.log(`ok metrics: nps ${metrics.nps} over ${metrics.response_count}`);

  // Unsubscribes and bounces.
  await delighted.unsubscribe.create({ person_email: later.email });
  const unsubscribed = await delighted.unsubscribe.all();
  assert.ok(unsubscribed.some((u) => u.email === later.email), 'unsubscribe listed');
  const bounces = await delighted.bounce.all();
  assert.ok(Array.isArray(bounces), 'bounces is a list');
  console.log('ok unsubscribe.create/all, bounce.all');

  // deletePending and Person.delete by id and by email.
  await delighted.surveyRequest.deletePending({ person_email: later.email });
  await delighted.person.delete({ id: kept.id });
  await delighted.person.delete({ email: `node-page-0-${stamp}@example.com` });
  const left = [];
  await delighted.person.list({ per_page: 100 }).autoPagingEach((p) => { left.push(p.email); });
  assert.ok(!left.includes(kept.email) && !left.includes(`node-page-0-${stamp}@example.com`),
    'deleted people are gone from the list');
  console.log('ok surveyRequest.deletePending, person.delete by id and by email');

  // The errors its users handle.
  const stranger = createClient('not-a-key', options);
  await expectError('AuthenticationError', () => stranger.metrics.retrieve(), 'a wrong key');
  await expectError('ResourceValidationError',
    () => delighted.person.create({ phone_number: '+15555550100' }), 'an SMS person');
  await expectError('ResourceValidationError',
    () => delighted.surveyResponse.create({ person: later.id, score: 11 }), 'a score of 11');
  console.log('ok errors: AuthenticationError, ResourceValidationError');
}

main().then(() => console.log('node client test passed'), (err) => {
  console.error(`FAIL ${err.message}`);
  process.exit(1);
});
