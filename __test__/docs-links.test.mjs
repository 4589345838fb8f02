// Every relative link of the README and of docs/ points at a file that exists and, with a
// #fragment, at a heading of that file (GitHub's anchors); every page of docs/ is reachable
// from the README. No network: links with a scheme (https:, mailto:) are not followed.
import test from 'ava'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const docs = path.join(root, 'docs')
const PAGES = [
  'README.md',
  ...readdirSync(docs)
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
]

/**
 * Pages another part of the build writes, on its own branch until it is merged: a link to one
 * is checked once it exists. Remove an entry when its page is in the tree. (docs/options.md is:
 * scripts/write-options-doc.js writes it, and options-doc.test.mjs keeps it current.)
 */
const GENERATED = new Set([])

/** The text outside fenced code blocks and inline code, where a `[x](y)` is a link. */
function prose(markdown) {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '').replace(/`[^`]*`/g, '')
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

/** The anchors of a page's headings (a repeated heading gets -1, -2, ... as on GitHub). */
function anchors(markdown) {
  const seen = new Map()
  const found = new Set()
  const text = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '')
  for (const m of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(m[1])
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    found.add(n === 0 ? base : `${base}-${n}`)
  }
  return found
}

/** The links of a page: [text](target), also when the text runs over a line break. */
function links(markdown) {
  return [...prose(markdown).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1])
}

/**
 * What is wrong with each relative link of `page` (a path from the repository's root), given
 * a reader of files: a list of sentences, empty when every link holds.
 */
function brokenLinks(page, markdown, read = (file) => readFileSync(path.join(root, file), 'utf8'), exists = (file) => existsSync(path.join(root, file))) {
  const problems = []
  for (const target of links(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue
    const [file, fragment] = target.split('#', 2)
    const resolved = file === '' ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), decodeURIComponent(file)))
    if (resolved.startsWith('..')) {
      problems.push(`${page}: ${target} leaves the repository`)
      continue
    }
    if (!exists(resolved)) {
      if (!GENERATED.has(resolved)) problems.push(`${page}: ${target}: ${resolved} does not exist`)
      continue
    }
    if (fragment !== undefined) {
      if (!resolved.endsWith('.md')) {
        problems.push(`${page}: ${target}: a #fragment on a file that is not Markdown`)
        continue
      }
      const text = resolved === page ? markdown : read(resolved)
      if (!anchors(text).has(fragment)) problems.push(`${page}: ${target}: ${resolved} has no heading with the anchor #${fragment}`)
    }
  }
  return problems
}

test('GitHub anchors of headings, as the pages use them', (t) => {
  t.is(slug('Data lost: `kernelDrops`'), 'data-lost-kerneldrops')
  t.is(slug('3. The reverse proxy and a TCP reader'), '3-the-reverse-proxy-and-a-tcp-reader')
  t.is(slug('Pacing (client)'), 'pacing-client')
  t.is(slug('Reverse proxy: TLS and access control on the listeners'), 'reverse-proxy-tls-and-access-control-on-the-listeners')
  t.deepEqual([...anchors('# A\n## B b\n```\n# not a heading\n```\n## B b\n')], ['a', 'b-b', 'b-b-1'])
})

test('the checker finds a missing file, a missing anchor and a link that leaves the repository', (t) => {
  const files = { 'README.md': '# Top\n## Real one\n', 'docs/a.md': '# A page\n' }
  const read = (f) => files[f]
  const exists = (f) => f in files
  const page = [
    '[fine](#real-one) [fine too](docs/a.md#a-page) [over a',
    'line](docs/a.md) `[in code](nowhere.md)` [web](https://example.com/x.md)',
    '[gone](docs/b.md) [no anchor](docs/a.md#nope) [out](../x.md) [self](#nothing)',
    '```',
    '[in a fence](nowhere.md)',
    '```',
  ].join('\n')
  t.deepEqual(brokenLinks('README.md', `# Top\n## Real one\n${page}`, read, exists), [
    'README.md: docs/b.md: docs/b.md does not exist',
    'README.md: docs/a.md#nope: docs/a.md has no heading with the anchor #nope',
    'README.md: ../x.md leaves the repository',
    'README.md: #nothing: README.md has no heading with the anchor #nothing',
  ])
  t.deepEqual(brokenLinks('docs/a.md', '[back](../README.md#real-one) [sibling](a.md)', read, exists), [])
})

test('every relative link of the README and of docs/ points at an existing file and heading', (t) => {
  const problems = []
  let count = 0
  for (const page of PAGES) {
    const markdown = readFileSync(path.join(root, page), 'utf8')
    count += links(markdown).filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l)).length
    problems.push(...brokenLinks(page, markdown))
  }
  t.deepEqual(problems, [])
  t.true(count >= 40, `only ${count} relative links found: is the link pattern still right?`)
})

test('every page of docs/ is linked from the README', (t) => {
  const linked = new Set(links(readFileSync(path.join(root, 'README.md'), 'utf8')).map((l) => l.split('#')[0]))
  for (const page of PAGES.filter((p) => p.startsWith('docs/'))) {
    t.true(statSync(path.join(root, page)).isFile())
    t.true(linked.has(page), `${page} is not linked from the README`)
  }
})
