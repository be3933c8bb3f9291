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

  // spec v1.16: any profile field by key (registered after the specific routes above).
  r.client('GET', '/profile/:userId/:keyName', { auth: 'optional', allowGuests: true }, async ({ params }) => {
    const profile = await s.profile.getProfile(params.userId!);
    const key = params.keyName!;
    // Own fields only: "toString" or "__proto__" would otherwise find Object.prototype's.
    if (!Object.hasOwn(profile, key) || profile[key] === undefined) throw new MatrixError(404, 'M_NOT_FOUND', `The user has no ${key}`);
    return { [key]: profile[key] };
  });
  r.client('PUT', '/profile/:userId/:keyName', { auth: 'required' }, async ({ requester, params, body }) => {
    const key = params.keyName!;
    if (!(key in body)) throw new MatrixError(400, 'M_BAD_JSON', `The body must hold the field '${key}'`);
    await s.profile.setCustomField(requester, params.userId!, key, body[key]);
    return {};
  });
  r.client('DELETE', '/profile/:userId/:keyName', { auth: 'required' }, async ({ requester, params }) => {
    await s.profile.setCustomField(requester, params.userId!, params.keyName!, null);
    return {};
  });
}
