/** spec: Client-Server API §11.x "Push Rules: API". */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { MatrixError } from '../../errors.js';
import {
  PushRuleError,
  deleteRule,
  getRule,
  isPushRuleKind,
  putRule,
  setActions,
  setEnabled,
  type PushRuleKind,
} from '../../matrix/push-rules/index.js';

function asMatrix<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PushRuleError) throw new MatrixError(err.status, err.errcode, err.message);
    throw err;
  }
}

function kindOf(scope: string, kind: string): PushRuleKind {
  if (scope !== 'global') throw new MatrixError(400, 'M_INVALID_PARAM', 'The only push rule scope is "global"');
  if (!isPushRuleKind(kind)) throw new MatrixError(400, 'M_INVALID_PARAM', `Unknown push rule kind ${kind}`);
  return kind;
}

export function registerPushRuleRoutes(r: ApiRouter, s: Services): void {
  const rules = () => s.pushRules;
  r.client('GET', '/pushrules/', { auth: 'required' }, async ({ requester }) => ({ global: await rules().ruleset(requester.userId) }));
  r.client('GET', '/pushrules/global/', { auth: 'required' }, ({ requester }) => rules().ruleset(requester.userId));

  const base = '/pushrules/:scope/:kind/:ruleId';
  r.client('GET', base, { auth: 'required' }, async ({ requester, params }) => {
    const kind = kindOf(params.scope!, params.kind!);
    const user = await rules().customisations(requester.userId);
    return asMatrix(() => getRule(requester.userId, user, kind, params.ruleId!));
  });
  r.client('PUT', base, { auth: 'required', schema: 'setPushRule' }, async ({ requester, params, body, query }) => {
    const kind = kindOf(params.scope!, params.kind!);
    await rules().modify(requester.userId, (u) => asMatrix(() => putRule(u, kind, params.ruleId!, body, { before: query.before, after: query.after })));
    return {};
  });
  r.client('DELETE', base, { auth: 'required' }, async ({ requester, params }) => {
    const kind = kindOf(params.scope!, params.kind!);
    await rules().modify(requester.userId, (u) => asMatrix(() => deleteRule(u, kind, params.ruleId!)));
    return {};
  });
  for (const attr of ['enabled', 'actions'] as const) {
    r.client('GET', `${base}/${attr}`, { auth: 'required' }, async ({ requester, params }) => {
      const kind = kindOf(params.scope!, params.kind!);
      const user = await rules().customisations(requester.userId);
      const rule = asMatrix(() => getRule(requester.userId, user, kind, params.ruleId!));
      return { [attr]: rule[attr] };
    });
    r.client('PUT', `${base}/${attr}`, { auth: 'required', schema: attr === 'enabled' ? 'setPushRuleEnabled' : 'setPushRuleActions' }, async ({ requester, params, body }) => {
      const kind = kindOf(params.scope!, params.kind!);
      await rules().modify(requester.userId, (u) =>
        asMatrix(() => (attr === 'enabled' ? setEnabled(requester.userId, u, kind, params.ruleId!, body.enabled) : setActions(requester.userId, u, kind, params.ruleId!, body.actions))),
      );
      return {};
    });
  }
}
