/** berthd configuration: defaults ← TOML file ← flags, the printed defaults round-trip, bad files refused. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { applyToml, defaultConfig, defaultConfigToml, loadConfig, parseConfigToml, MAX_MESSAGE_SIZE } from '../../services/config';
import { InvalidArgument } from '../../pkg/errdefs';
import { BERTHD_BIN } from '../helpers/daemon';

describe('berthd config', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('has containerd-like defaults', () => {
    const c = defaultConfig();
    assert.equal(c.address, '/run/berth/berthd.sock');
    assert.equal(c.root, '/var/lib/berth');
    assert.equal(c.state, '/run/berth');
    assert.equal(c.logLevel, 'info');
    assert.equal(c.grpc.maxRecvMessageSize, MAX_MESSAGE_SIZE);
    assert.equal(MAX_MESSAGE_SIZE, 16 * 1024 * 1024);
  });

  it('the printed defaults parse back to the defaults', () => {
    assert.deepEqual(applyToml(defaultConfig(), parseConfigToml(defaultConfigToml())), defaultConfig());
  });

  it('file overrides defaults, flags override the file', () => {
    const file = path.join(dir, 'config.toml');
    fs.writeFileSync(file, 'root = "/r"\n[grpc]\naddress = "/a.sock"\ngid = 7\n[debug]\nlevel = "debug"\n[shim]\nprestart = 2\n');
    const fromFile = loadConfig({ config: file });
    assert.equal(fromFile.root, '/r');
    assert.equal(fromFile.address, '/a.sock');
    assert.equal(fromFile.grpc.gid, 7);
    assert.equal(fromFile.logLevel, 'debug');
    assert.equal(fromFile.shim.prestart, 2);
    assert.equal(fromFile.state, '/run/berth');
    const flagged = loadConfig({ config: file, root: '/flag-root', address: '/flag.sock', logLevel: 'warn' });
    assert.equal(flagged.root, '/flag-root');
    assert.equal(flagged.address, '/flag.sock');
    assert.equal(flagged.logLevel, 'warn');
    assert.equal(flagged.grpc.gid, 7);
  });

  it('refuses unknown keys, wrong types, bad levels, missing files, broken TOML', () => {
    const bad = (text: string): void => {
      const file = path.join(dir, 'bad.toml');
      fs.writeFileSync(file, text);
      assert.throws(() => loadConfig({ config: file }), InvalidArgument, text);
    };
    bad('rot = "/x"\n');
    bad('[grpc]\nadress = "/x"\n');
    bad('root = 5\n');
    bad('[grpc]\nuid = -1\n');
    bad('[debug]\nlevel = "loud"\n');
    bad('version = 1\n');
    bad('root = "unterminated\n');
    assert.throws(() => loadConfig({ config: path.join(dir, 'missing.toml') }), InvalidArgument);
    assert.throws(() => loadConfig({ logLevel: 'chatty' }), InvalidArgument);
  });

  it('`berthd config default` prints the embedded defaults', { skip: !fs.existsSync(BERTHD_BIN) && 'bin/berthd missing' }, () => {
    const r = spawnSync(process.execPath, [BERTHD_BIN, 'config', 'default'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, defaultConfigToml());
  });

  it('berthd refuses a bad config file and exits non-zero', { skip: !fs.existsSync(BERTHD_BIN) && 'bin/berthd missing' }, () => {
    const file = path.join(dir, 'broken.toml');
    fs.writeFileSync(file, 'nonsense = true\n');
    const r = spawnSync(process.execPath, [BERTHD_BIN, '--config', file, '--address', path.join(dir, 's.sock')], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown key nonsense/);
  });
});
