// Lighthouse on the child's pages (issue 16): navigations of the pages a link opens, and
// snapshots of those a form answers (an error, Enter, thanks, danger thanks, wrong code,
// conversation), which no URL reaches. A phone of 360×740, Debian's chromium.
//
//   npm i -E --prefix /tmp/lh lighthouse@12.2.3      (12.2.3: the last for Node 20)
//   NODE_PATH=/tmp/lh/node_modules node bench/lighthouse.mjs http://127.0.0.1:5000 CODE
// with `make demo` (or `flask run`) serving, CODE a school's code the demo printed.
import {createRequire} from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH || '.', 'x.js'));
const puppeteer = require('puppeteer-core');
const {startFlow} = await import(require.resolve('lighthouse'));

const [base, code] = process.argv.slice(2);
const TEXT = 'Меня обижают на переменах.';
const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'],
});
const page = await browser.newPage();
const flow = await startFlow(page, {config: {extends: 'lighthouse:default', settings: {
  onlyCategories: ['performance', 'accessibility', 'best-practices'], formFactor: 'mobile',
  screenEmulation: {mobile: true, width: 360, height: 740, deviceScaleFactor: 2, disabled: false},
}}});
const school = (language) => `${base}/s/${code}?lang=${language}`;
const press = (selector) => Promise.all([
  page.waitForNavigation({waitUntil: 'load'}), page.$eval(selector, (button) => button.click()),
]);

await flow.navigate(`${base}/?lang=ru`, {name: 'front page'});
for (const language of ['kk', 'ru', 'en']) {
  await flow.navigate(school(language), {name: `school page, ${language}`});
}
await flow.navigate(`${base}/check?lang=ru`, {name: 'check'});
await page.goto(school('ru'));
await page.type('#message', '   ');
await press('button.send');
await flow.snapshot({name: 'form after an error'});
await page.goto(school('ru'));
await page.type('#message', TEXT);
await press('button[name=enter]');
await flow.snapshot({name: 'form after Enter, nothing sent'});
await page.goto(school('ru'));
await page.type('#message', TEXT);
await press('button.send');
const receipt = (await page.$eval('.receipt .digits', (e) => e.textContent)).replace(/\D/g, '');
await flow.snapshot({name: 'thanks'});
await page.goto(school('ru'));
await page.type('#message', TEXT);
await page.click('input[name=danger][value=yes]');
await press('button.send');
await flow.snapshot({name: 'danger thanks'});
for (const [name, typed] of [['wrong code', '0000 0000 0000 0000'], ['conversation', receipt]]) {
  await page.goto(`${base}/check?lang=ru`);
  await page.type('#receipt', typed);
  await press('button.send');
  await flow.snapshot({name});
}
for (const step of (await flow.createFlowResult()).steps) {
  // A snapshot's performance is a few audits of one moment, not a load: not shown.
  const scores = Object.values(step.lhr.categories)
    .filter((category) => step.lhr.gatherMode === 'navigation' || category.id !== 'performance')
    .map((category) => `${category.id} ${category.score === null ? '?' : Math.round(category.score * 100)}`);
  if (step.lhr.runtimeError) { scores.push(`error ${step.lhr.runtimeError.code}`); }
  const failing = Object.values(step.lhr.audits)
    .filter((audit) => audit.score !== null && audit.score < 1 &&
      ['binary', 'numeric', 'metricSavings'].includes(audit.scoreDisplayMode))
    .map((audit) => audit.id);
  console.log(`${step.name} (${step.lhr.gatherMode}): ${scores.join(', ')}` +
    (failing.length ? `; below 1: ${failing.join(' ')}` : ''));
}
console.log(`Lighthouse ${(await import(require.resolve('lighthouse/package.json'), {with: {type: 'json'}})).default.version}, ${await browser.version()}`);
await browser.close();
