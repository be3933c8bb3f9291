import { expect } from 'chai';
import { MatrixError } from '../../src/errors.js';
import {
  comparePositions,
  formatStreamToken,
  formatTopologicalToken,
  parseRoomToken,
  tokenAfter,
  tokenBefore,
} from '../../src/services/rooms/pagination-token.js';

function errcodeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(MatrixError);
    expect((err as MatrixError).status).to.equal(400);
    return (err as MatrixError).errcode;
  }
  return undefined;
}

describe('rooms: pagination tokens', () => {
  it('reads topological tokens', () => {
    expect(parseRoomToken('t12-345')).to.deep.equal({ kind: 'topological', topo: 12, stream: 345 });
    expect(parseRoomToken('t0-0')).to.deep.equal({ kind: 'topological', topo: 0, stream: 0 });
    // Synapse-style trailing sync positions are tolerated.
    expect(parseRoomToken('t47429-4392820_219380_26003_2265')).to.deep.equal({ kind: 'topological', topo: 47429, stream: 4392820 });
  });

  it('reads stream tokens and composite sync tokens by their first (events) position', () => {
    expect(parseRoomToken('s42')).to.deep.equal({ kind: 'stream', stream: 42 });
    expect(parseRoomToken('s72594_4483_1934_0_12')).to.deep.equal({ kind: 'stream', stream: 72594 });
  });

  it('round-trips what it formats', () => {
    expect(parseRoomToken(formatTopologicalToken(7, 99))).to.deep.equal({ kind: 'topological', topo: 7, stream: 99 });
    expect(parseRoomToken(formatStreamToken(5))).to.deep.equal({ kind: 'stream', stream: 5 });
  });

  for (const bad of ['', 'x', 't', 't1', 't1-', 't-1', 'tA-1', 's', 's-1', 'sabc', 's1__2', 's1_', 't1-2-3', ' s1', 's1 ', 's99999999999999999', 'S1', 'null']) {
    it(`refuses ${JSON.stringify(bad)} with 400 M_INVALID_PARAM`, () => {
      expect(errcodeOf(() => parseRoomToken(bad, 'from'))).to.equal('M_INVALID_PARAM');
    });
  }

  it('names the gap before and after an event', () => {
    expect(tokenBefore({ topo: 5, stream: 10 })).to.equal('t5-9');
    expect(tokenAfter({ topo: 5, stream: 10 })).to.equal('t5-10');
  });

  it('orders positions topologically first, then by stream', () => {
    expect(comparePositions({ topo: 1, stream: 100 }, { topo: 2, stream: 1 })).to.be.lessThan(0);
    expect(comparePositions({ topo: 2, stream: 5 }, { topo: 2, stream: 4 })).to.be.greaterThan(0);
    expect(comparePositions({ topo: 2, stream: 5 }, { topo: 2, stream: 5 })).to.equal(0);
  });
});
