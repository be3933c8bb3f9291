import { expect } from 'chai';
import { filterGlobMatches } from '../../src/matrix/filter-glob.js';

describe('event filter wildcards', () => {
  it('a * matches any sequence, anything else matches itself', () => {
    expect(filterGlobMatches('m.room.*', 'm.room.message')).to.equal(true);
    expect(filterGlobMatches('m.room.*', 'm.room.')).to.equal(true);
    expect(filterGlobMatches('m.*.message', 'm.room.message')).to.equal(true);
    expect(filterGlobMatches('*', '')).to.equal(true);
    expect(filterGlobMatches('m.room.*', 'm.reaction')).to.equal(false);
    // No other character is special: `.` and `?` are literal.
    expect(filterGlobMatches('m.room.message', 'mxroomxmessage')).to.equal(false);
    expect(filterGlobMatches('m.?', 'm.x')).to.equal(false);
    expect(filterGlobMatches('*a*b', 'xaxbxb')).to.equal(true);
    expect(filterGlobMatches('*a*b', 'xaxbxc')).to.equal(false);
  });

  it('a pattern of a thousand stars before a letter is answered at all (no exponential backtracking)', function () {
    // A regex with one `.*` per star took 13 s at eighteen stars and doubled with each one more:
    // this would never finish. The walk is quadratic at worst: milliseconds.
    this.timeout(5000);
    expect(filterGlobMatches(`${'*'.repeat(1000)}a`, 'm.room.message.' + 'b'.repeat(240))).to.equal(false);
    expect(filterGlobMatches(`${'*x'.repeat(300)}`, 'x'.repeat(255))).to.equal(false);
  });
});
