import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ACTS, STAGE_DIRECTION, parsePlay, speakerLocalpart, speakersOf } from '../../bench/lib/romeo-parser.js';

describe('bench: Romeo and Juliet parser', () => {
  it('follows the workload rules', () => {
    const text = [
      'ACT I',
      'PROLOGUE',
      '',
      '    Two households, both alike in dignity,',
      '',
      'SAMPSON',
      'this line is skipped',
      '    Gregory, o\' my word, ',
      '   ',
      '    Enter ROMEO',
      'ACT II ',
      '',
    ].join('\n');
    expect(parsePlay(text)).to.deep.equal([
      { speaker: ACTS, body: 'ACT I' },
      { speaker: 'PROLOGUE', body: 'Two households, both alike in dignity,' },
      { speaker: 'SAMPSON', body: "Gregory, o' my word," },
      { speaker: STAGE_DIRECTION, body: 'Enter ROMEO' },
      { speaker: ACTS, body: 'ACT II' },
    ]);
  });

  it('makes localparts from speakers', () => {
    expect(speakerLocalpart("SCENE III. Capulet's house.", 'r1')).to.equal('scene_iii__capulet_s_house__r1');
    expect(speakerLocalpart('Nurse', 'x')).to.equal(speakerLocalpart('NURSE', 'x'));
  });

  // The shared folder sits next to the project: ../shared/bench-data/ from its root.
  const play = resolve(import.meta.dirname, '../../../shared/bench-data/romeo_and_juliet.txt');
  (existsSync(play) ? it : it.skip)('gives 3287 messages from 58 speakers for the play', () => {
    const lines = parsePlay(readFileSync(play, 'utf8'));
    expect(lines).to.have.length(3287);
    expect(speakersOf(lines)).to.have.length(58);
    expect(speakersOf(lines)).to.include.members([ACTS, STAGE_DIRECTION, 'ROMEO', 'JULIET']);
  });
});
