/** spec: Client-Server API §10.x "Profiles". */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MatrixError } from '../../errors.js';
import type { ProfileField } from '../../services/profile.js';

export function registerProfileRoutes(r: ApiRouter, s: Services): void {
  r.client('GET', '/profile/:userId', { auth: 'optional', allowGuests: true }, ({ params }) => s.profile.getProfile(params.userId!));

  for (const field of ['displayname', 'avatar_url'] as ProfileField[]) {
    r.client('GET', `/profile/:userId/${field}`, { auth: 'optional', allowGuests: true }, async ({ params }) => {
      const profile = await s.profile.getProfile(params.userId!);
      if (profile[field] === undefined) throw new MatrixError(404, 'M_NOT_FOUND', `The user has no ${field}`);
      return { [field]: profile[field] };
    });
    r.client('PUT', `/profile/:userId/${field}`, { auth: 'required', allowGuests: field === 'displayname' }, async ({ requester, params, body }) => {
      if (!(field in body)) throw new MatrixError(400, 'M_BAD_JSON', `Missing field '${field}'`);
      await s.profile.setField(requester, params.userId!, field, body[field]);
      return {};
    });
  }
}
