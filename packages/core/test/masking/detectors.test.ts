import { createMaskingEngine } from '@warden/core'
import type { DetectorName } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const engine = createMaskingEngine({ key: 'detector-test-key-0123456789' })
const mask = (detector: DetectorName, text: string) =>
  engine.masker([{ name: 'd', columns: [], detectors: [detector], strategy: 'redact', tags: [] }]).text(text)
const R = '[redacted]'

// A JWT with a real header ({"alg":"HS256","typ":"JWT"}).
const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'
const PEM = `-----BEGIN RSA PRIVATE KEY-----
MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu
KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQJAIJLixBy2qpFoS4DSmoEm
-----END RSA PRIVATE KEY-----`

const cases: Record<DetectorName, { hit: string[]; miss: string[] }> = {
  email: {
    hit: ['jane.doe+tag@example.co.uk', 'a@b.io', 'x_y@sub.domain.example.com'],
    miss: [
      'not an email',
      'a@b',
      'user@host.c0m1',
      '.dot@example.com',
      'two..dots@example.com',
      '@example.com',
    ],
  },
  credit_card: {
    hit: [
      '4111111111111111',
      '4111 1111 1111 1111',
      '4111-1111-1111-1111',
      '3782 822463 10005',
      '5500005555555559',
    ],
    miss: [
      '4111111111111112',
      '1234 5678 9012 3456',
      '0000000000000000',
      '41111111111111111111111',
      '4111 1111-1111 1111',
    ],
  },
  iban: {
    hit: [
      'DE89370400440532013000',
      'DE89 3704 0044 0532 0130 00',
      'GB82WEST12345698765432',
      'FR1420041010050500013M02606',
    ],
    miss: [
      'DE89370400440532013001',
      'GB82WEST1234569876543',
      'XX89370400440532013000',
      'DE00 0000 0000 0000 0000 00',
    ],
  },
  us_ssn: {
    hit: ['219-09-9999', '078 05 1120'],
    miss: [
      '000-12-3456',
      '666-12-3456',
      '900-12-3456',
      '123-00-4567',
      '123-45-0000',
      '219-09-99999',
      '219-09 9999',
      '2190-09-9999',
    ],
  },
  phone: {
    hit: ['+1 415-555-2671', '(212) 555-0188', '+44 20 7946 0958', '+49 30 901820', '415.555.2671'],
    miss: ['12345', '2024-01-15', '555-0100', '+1 000-000-0000', 'order 100200300'],
  },
  ipv4: {
    hit: ['10.0.0.1', '192.168.1.254', '8.8.8.8'],
    miss: ['256.1.1.1', '1.2.3', '1.2.3.4.5', 'v1.2.3.4x', '01.02.03.04'],
  },
  ipv6: {
    hit: [
      '2001:db8::1',
      'fe80::1ff:fe23:4567:890a',
      '::ffff:192.0.2.128',
      '2001:0db8:85a3:0000:0000:8a2e:0370:7334',
    ],
    miss: ['12:30:45', 'aa:bb:cc:dd:ee:ff', '::', 'deadbeef', 'a:b', '2001:db8:::1'],
  },
  jwt: {
    hit: [JWT, 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'],
    miss: [
      'eyJub3QiOiJhIGp3dCJ9.eyJzdWIiOiJ4In0.c2ln',
      'eyJhbGciOiJIUzI1NiJ9',
      'eyJhbGci.OiJIUzI1.NiJ9',
      'eyJ!!!.abc.def',
    ],
  },
  aws_access_key: {
    hit: ['AKIAIOSFODNN7EXAMPLE', 'ASIAY34FZKBOKMUTVV7A'],
    miss: ['AKIAIOSFODNN7EXAMPL', 'AKIAIOSFODNN7EXAMPLE1', 'XKIAIOSFODNN7EXAMPLE', 'AKIAiosfodnn7example'],
  },
  private_key: {
    hit: [
      PEM,
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----',
    ],
    miss: [
      '-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKj34GkxFhD9\n-----END PUBLIC KEY-----',
      '-----BEGIN CERTIFICATE-----',
    ],
  },
  api_key: {
    hit: [
      'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
      'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
      'xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx',
      'glpat-xxxxXXXX1234yyyyZZZZ',
      'sk-ant-api03-abcdefghij1234567890',
    ],
    miss: [
      'sk_live_short1',
      'ghp_onlyletterswithoutanydigitsatall',
      'my-sk_live_4eC39HqLyjWDarjtT1zdp7dcX',
      'sk-learn-is-a-python-library',
    ],
  },
}

describe('detectors', () => {
  for (const [name, { hit, miss }] of Object.entries(cases) as [
    DetectorName,
    { hit: string[]; miss: string[] },
  ][]) {
    describe(name, () => {
      it.each(hit)('finds %s, alone and inside text', (value) => {
        expect(mask(name, value)).toBe(R)
        expect(mask(name, `before: ${value} ;after`)).toBe(`before: ${R} ;after`)
      })
      it.each(miss)('leaves %s alone', (value) => {
        expect(mask(name, value)).toBe(value)
      })
    })
  }

  it('an unterminated private key block is masked to the end of the text', () => {
    const truncated = `key:\n${PEM.split('\n').slice(0, 2).join('\n')}\n`
    expect(mask('private_key', truncated)).toBe(`key:\n${R}`)
  })

  it('several values of several kinds in one text, non-overlapping', () => {
    const all = engine.masker([
      {
        name: 'all',
        columns: [],
        detectors: Object.keys(cases) as DetectorName[],
        strategy: 'redact',
        tags: [],
      },
    ])
    const text = `user jane@example.com from 10.1.2.3 / 2001:db8::7 paid 4111 1111 1111 1111 (IBAN DE89 3704 0044 0532 0130 00), ssn 219-09-9999, call +1 415-555-2671, token ${JWT}, key AKIAIOSFODNN7EXAMPLE, gh ghp_16C7e42F292c6912E7710c838347Ae178B4a`
    expect(all.text(text)).toBe(
      `user ${R} from ${R} / ${R} paid ${R} (IBAN ${R}), ssn ${R}, call ${R}, token ${R}, key ${R}, gh ${R}`,
    )
  })
})

// Each detector on long adversarial inputs. A super-linear regex takes minutes on these (and the
// test times out); the linear ones take milliseconds. No timing threshold is asserted.
describe('detectors stay linear on hostile input', () => {
  const N = 200_000
  const hostile = [
    'a'.repeat(N),
    '1'.repeat(N),
    '1 '.repeat(N / 2),
    '1-'.repeat(N / 2),
    '1.'.repeat(N / 2),
    'a.'.repeat(N / 2),
    'a@'.repeat(N / 2),
    `${'a'.repeat(N)}@`,
    `a@${'a.'.repeat(N / 2)}`,
    ':'.repeat(N),
    'a:'.repeat(N / 2),
    'f'.repeat(N),
    'eyJ'.repeat(N / 3),
    `eyJ${'A'.repeat(N)}`,
    'eyJaa.'.repeat(N / 6),
    '-----BEGIN PRIVATE KEY-----'.repeat(N / 27),
    '-----BEGIN RSA PRIVATE KEY-----\n-----END DSA PRIVATE KEY-----\n'.repeat(N / 62),
    'sk_live_'.repeat(N / 8),
    `ghp_${'a1'.repeat(N / 2)}`,
    'AKIA'.repeat(N / 4),
    'DE89 '.repeat(N / 5),
    '+1 ('.repeat(N / 4),
    '(212) 555-0188 '.repeat(N / 15),
  ]
  for (const name of Object.keys(cases) as DetectorName[]) {
    it(`${name}`, () => {
      for (const input of hostile) {
        const out = mask(name, input)
        expect(typeof out).toBe('string')
      }
    })
  }
})
