import { expect } from 'chai';
import { MatrixError } from '../../src/errors.js';
import { limitParam } from '../../src/api/client/room-reads.js';
import { DEFAULT_MESSAGES_LIMIT, MAX_MESSAGES_LIMIT } from '../../src/services/rooms/pagination.js';

describe('rooms: /messages and /context limit parameter', () => {
  it('takes the query value, capped', () => {
    expect(limitParam('5', DEFAULT_MESSAGES_LIMIT, MAX_MESSAGES_LIMIT)).to.equal(5);
    expect(limitParam('0', DEFAULT_MESSAGES_LIMIT, MAX_MESSAGES_LIMIT)).to.equal(0);
    expect(limitParam('1000000', DEFAULT_MESSAGES_LIMIT, MAX_MESSAGES_LIMIT)).to.equal(MAX_MESSAGES_LIMIT);
  });

  it("falls back to the filter's limit, capped the same way (a filter must not page a whole room at once)", () => {
    expect(limitParam(undefined, 25, MAX_MESSAGES_LIMIT)).to.equal(25);
    expect(limitParam('', 1_000_000, MAX_MESSAGES_LIMIT)).to.equal(MAX_MESSAGES_LIMIT);
    expect(limitParam(undefined, 1_000_000, MAX_MESSAGES_LIMIT)).to.equal(MAX_MESSAGES_LIMIT);
  });

  it('refuses what is not a non-negative integer with 400 M_INVALID_PARAM', () => {
    for (const bad of ['-1', 'ten', '1.5', '1e3']) {
      try {
        limitParam(bad, DEFAULT_MESSAGES_LIMIT, MAX_MESSAGES_LIMIT);
        expect.fail(`accepted ${bad}`);
      } catch (err) {
        expect(err, bad).to.be.instanceOf(MatrixError);
        expect((err as MatrixError).errcode).to.equal('M_INVALID_PARAM');
        expect((err as MatrixError).status).to.equal(400);
      }
    }
  });
});
