import { describe, expect, it } from 'vitest';
import {
  checkSubscriptionUrl,
  isForbiddenAddress,
  isForbiddenHostname,
  parseIpLiteral,
} from '../../src/core/network-address.ts';

describe('parseIpLiteral', () => {
  const ipv4: [string, number[]][] = [
    ['127.0.0.1', [127, 0, 0, 1]],
    ['127.1', [127, 0, 0, 1]],
    ['10.1.1', [10, 1, 0, 1]],
    ['2130706433', [127, 0, 0, 1]],
    ['0x7f000001', [127, 0, 0, 1]],
    ['0X7F000001', [127, 0, 0, 1]],
    ['0x7f.0.0.1', [127, 0, 0, 1]],
    ['0x7f.1', [127, 0, 0, 1]],
    ['0177.0.0.1', [127, 0, 0, 1]],
    ['017700000001', [127, 0, 0, 1]],
    ['0000000177.0.0.01', [127, 0, 0, 1]],
    ['0', [0, 0, 0, 0]],
    ['0x', [0, 0, 0, 0]],
    ['169.254.43518', [169, 254, 169, 254]],
    ['127.0.0.1.', [127, 0, 0, 1]],
    ['255.255.255.255', [255, 255, 255, 255]],
    ['4294967295', [255, 255, 255, 255]],
  ];
  it.each(ipv4)('reads %s as IPv4', (host, bytes) => {
    expect(parseIpLiteral(host)).toEqual({ family: 4, bytes: new Uint8Array(bytes) });
  });

  const ipv6: [string, string][] = [
    ['::1', '00000000000000000000000000000001'],
    ['[::1]', '00000000000000000000000000000001'],
    ['::', '00000000000000000000000000000000'],
    ['::ffff:127.0.0.1', '00000000000000000000ffff7f000001'],
    ['[::ffff:7f00:1]', '00000000000000000000ffff7f000001'],
    ['fe80::1%eth0', 'fe800000000000000000000000000001'],
    ['[fe80::1%25eth0]', 'fe800000000000000000000000000001'],
    ['2001:4860:4860::8888', '20014860486000000000000000008888'],
    ['2001:DB8:0:0:0:0:0:1', '20010db8000000000000000000000001'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
    ['1:2:3:4:5:6:1.2.3.4', '00010002000300040005000601020304'],
    ['64:ff9b::7f00:1', '0064ff9b0000000000000000' + '7f000001'],
  ];
  it.each(ipv6)('reads %s as IPv6', (host, hex) => {
    const parsed = parseIpLiteral(host);
    expect(parsed?.family).toBe(6);
    expect(Buffer.from(parsed!.bytes).toString('hex')).toBe(hex);
  });

  it.each([
    'example.com',
    'localhost',
    '',
    '.',
    '1.2.3.4.5',
    '256.0.0.1',
    '1.2.3.256',
    '127.16777216',
    '4294967296',
    '1.2.3.09',
    '0x1g',
    '1..2',
    '+1.2.3.4',
    ' 127.0.0.1',
    '1::2::3',
    ':::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    '::ffff:0177.0.0.1',
    '::1.2.3.4:5',
    '[::1',
    '[127.0.0.1]',
  ])('refuses %j (a name, or nothing)', (host) => {
    expect(parseIpLiteral(host)).toBeNull();
  });
});

describe('isForbiddenAddress / isForbiddenHostname', () => {
  const table: [string, boolean][] = [
    // loopback, in every spelling
    ['127.0.0.1', true],
    ['127.1', true],
    ['2130706433', true],
    ['0x7f000001', true],
    ['0177.0.0.1', true],
    ['0x7f.1', true],
    ['127.255.255.254', true],
    ['[::1]', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['[::ffff:7f00:1]', true],
    ['::127.0.0.1', true],
    ['::ffff:0:127.0.0.1', true],
    ['64:ff9b::7f00:1', true],
    ['64:ff9b::127.0.0.1', true],
    ['2002:7f00:1::', true],
    // metadata
    ['169.254.169.254', true],
    ['[::ffff:169.254.169.254]', true],
    ['::ffff:a9fe:a9fe', true],
    ['2852039166', true],
    ['fd00:ec2::254', true],
    // private, CGNAT, link-local, unique-local
    ['10.0.0.1', true],
    ['172.16.5.4', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['172.15.255.255', false],
    ['192.168.1.1', true],
    ['100.64.0.1', true],
    ['100.127.255.255', true],
    ['100.128.0.1', false],
    ['fe80::1', true],
    ['febf::1', true],
    ['fec0::1', true],
    ['fd00::1', true],
    ['fc00::', true],
    ['64:ff9b:1::a00:1', true],
    // unspecified, multicast, reserved, benchmarking
    ['0.0.0.0', true],
    ['0', true],
    ['0.1.2.3', true],
    ['::', true],
    ['224.0.0.1', true],
    ['239.255.255.250', true],
    ['ff02::1', true],
    ['240.0.0.1', true],
    ['255.255.255.255', true],
    ['198.18.0.1', true],
    ['198.19.255.255', true],
    ['198.20.0.1', false],
    // public
    ['8.8.8.8', false],
    ['1.1.1.1', false],
    ['2001:4860:4860::8888', false],
    ['::ffff:8.8.8.8', false],
    ['64:ff9b::808:808', false],
    ['2002:808:808::1', false],
    ['2606:4700::1111', false],
  ];
  it.each(table)('%s → forbidden %s', (host, forbidden) => {
    const parsed = parseIpLiteral(host);
    expect(parsed).not.toBeNull();
    expect(isForbiddenAddress(parsed!)).toBe(forbidden);
    expect(isForbiddenHostname(host)).toBe(forbidden);
  });

  it.each([
    ['localhost', true],
    ['LOCALHOST', true],
    ['localhost.', true],
    ['foo.localhost', true],
    ['a.b.localhost', true],
    ['metadata.google.internal', true],
    ['metadata.google.internal.', true],
    ['metadata', true],
    ['example.com', false],
    ['localhost.example.com', false],
    ['notlocalhost', false],
    ['billing.internal', false],
  ])('name %s → forbidden %s', (host, forbidden) => {
    expect(isForbiddenHostname(host)).toBe(forbidden);
  });

  it('fails closed on bytes of the wrong length', () => {
    expect(isForbiddenAddress({ family: 4, bytes: new Uint8Array(16) })).toBe(true);
    expect(isForbiddenAddress({ family: 6, bytes: new Uint8Array([8, 8, 8, 8]) })).toBe(true);
  });
});

describe('checkSubscriptionUrl', () => {
  const production = { requireHttps: true, allowPrivateNetwork: false };
  const development = { requireHttps: false, allowPrivateNetwork: true };
  const strictHttp = { requireHttps: false, allowPrivateNetwork: false };

  it('accepts a public https URL and returns it parsed', () => {
    const result = checkSubscriptionUrl('https://billing.example.com/webhooks/order.created.v1', production);
    expect(result.ok).toBe(true);
    expect(result.ok && result.url.href).toBe('https://billing.example.com/webhooks/order.created.v1');
  });

  it('requires https in production and allows http in development', () => {
    expect(checkSubscriptionUrl('http://billing.example.com/hook', production)).toEqual({
      ok: false,
      reason: 'URL must use https',
    });
    expect(checkSubscriptionUrl('http://billing.example.com/hook', development).ok).toBe(true);
    expect(checkSubscriptionUrl('http://127.0.0.1:8787/hook', development).ok).toBe(true);
  });

  it.each(['/relative/path', 'billing.example.com/hook', '', 'https://'])(
    'refuses %j: not absolute',
    (url) => {
      expect(checkSubscriptionUrl(url, development)).toEqual({ ok: false, reason: 'URL must be absolute' });
    },
  );

  it.each(['ftp://example.com/', 'file:///etc/passwd', 'javascript:alert(1)', 'ws://example.com/'])(
    'refuses %s: not http(s)',
    (url) => {
      expect(checkSubscriptionUrl(url, development)).toEqual({
        ok: false,
        reason: 'URL must use http or https',
      });
    },
  );

  it.each([
    'https://user:secret@billing.example.com/hook',
    'https://user@billing.example.com/hook',
    'https://:secret@billing.example.com/hook',
    'https://@billing.example.com/hook',
    'https://127.0.0.1:80@billing.example.com/hook',
  ])('refuses %s: credentials', (url) => {
    expect(checkSubscriptionUrl(url, development)).toEqual({
      ok: false,
      reason: 'URL must not contain credentials',
    });
  });

  it.each([
    'http://127.0.0.1/',
    'http://2130706433/',
    'http://0x7f000001/',
    'http://0x7f.1/',
    'http://0177.0.0.1/',
    'http://127.1:8080/hook',
    'http://127.0.0.1./',
    'http://0/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:169.254.169.254]/latest/meta-data/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/',
    'http://10.0.0.1/',
    'http://172.16.5.4/',
    'http://192.168.1.1/',
    'http://100.64.0.1/',
    'http://[fe80::1]/',
    'http://localhost:8787/',
    'http://LOCALHOST./',
    'http://foo.localhost/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://%31%32%37.0.0.1/',
    'http://１２７.０.０.１/',
    'http:\\\\127.0.0.1\\hook',
    'http:127.0.0.1/hook',
    ' http://127.0.0.1/ ',
    'http://127.0.\t0.1/',
  ])('refuses %j unless the private network is allowed', (url) => {
    expect(checkSubscriptionUrl(url, strictHttp)).toEqual({
      ok: false,
      reason: 'URL must not target a loopback, private, link-local or metadata address',
    });
    expect(checkSubscriptionUrl(url, development).ok).toBe(true);
  });

  it.each([
    'https://8.8.8.8/hook',
    'https://172.32.0.1/',
    'https://[2001:4860:4860::8888]/',
    'https://billing.example.com:8443/hook?x=1#frag',
    'https://localhost.example.com/',
  ])('accepts %s in production', (url) => {
    expect(checkSubscriptionUrl(url, production).ok).toBe(true);
  });

  it('lets names through: they are judged again by their resolved address at connect time', () => {
    expect(checkSubscriptionUrl('https://internal-service.corp.example/', production).ok).toBe(true);
  });
});
