/** The shim's process state machines: containerd's transitions and error texts (pkg/process/*_state.go). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessStateMachine, checkOperation } from '../../shim/process/state';
import { FailedPrecondition, NotFound } from '../../pkg/errdefs';

describe('shim process state machine', () => {
  it('walks the init lifecycle created → running → pausing → paused → running → stopped → deleted', () => {
    const m = new ProcessStateMachine('init');
    assert.equal(m.status, 'created');
    m.apply('start');
    assert.equal(m.status, 'running');
    m.beginPause();
    assert.equal(m.status, 'pausing');
    m.finishPause();
    assert.equal(m.status, 'paused');
    m.apply('resume');
    m.apply('exit');
    assert.equal(m.status, 'stopped');
    m.apply('delete');
    assert.equal(m.status, 'deleted');
  });

  it('refuses illegal init transitions with containerd messages', () => {
    const cases: Array<[Parameters<typeof checkOperation>[1], Parameters<typeof checkOperation>[2], string]> = [
      ['created', 'pause', 'cannot pause task in created state'],
      ['created', 'resume', 'cannot resume task in created state'],
      ['running', 'start', 'cannot start a running process'],
      ['running', 'delete', 'cannot delete a running process'],
      ['running', 'resume', 'cannot resume a running process'],
      ['paused', 'pause', 'cannot pause a paused container'],
      ['paused', 'delete', 'cannot delete a paused process'],
      ['paused', 'exec', 'cannot exec in a paused state'],
      ['stopped', 'start', 'cannot start a stopped process'],
      ['stopped', 'update', 'cannot update a stopped container'],
      ['stopped', 'exec', 'cannot exec in a stopped state'],
    ];
    for (const [status, op, msg] of cases) {
      const err = checkOperation('init', status, op);
      assert.ok(err instanceof FailedPrecondition, `${op} in ${status}`);
      assert.equal(err.message, msg);
    }
    assert.ok(checkOperation('init', 'stopped', 'kill') instanceof NotFound);
    assert.equal(checkOperation('init', 'stopped', 'kill')!.message, 'process already finished');
    assert.ok(checkOperation('init', 'deleted', 'delete') instanceof NotFound);
  });

  it('exec processes: kill before start is refused, delete of a running one too', () => {
    assert.equal(checkOperation('exec', 'created', 'kill')!.message, 'process not created');
    assert.equal(checkOperation('exec', 'running', 'delete')!.message, 'cannot delete a running process');
    assert.equal(checkOperation('exec', 'created', 'delete'), undefined);
    assert.equal(checkOperation('exec', 'stopped', 'delete'), undefined);
    const m = new ProcessStateMachine('exec');
    m.apply('start');
    m.apply('exit');
    assert.throws(() => m.apply('exit'), FailedPrecondition, 'an exit is applied once');
  });

  it('an exit while pausing wins over the pause', () => {
    const m = new ProcessStateMachine('init');
    m.apply('start');
    m.beginPause();
    m.apply('exit');
    m.finishPause();
    assert.equal(m.status, 'stopped');
  });
});
