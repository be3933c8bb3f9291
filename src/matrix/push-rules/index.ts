/** Push rules: the server-default set, a user's customisations, and evaluation. Pure. */
export { defaultRuleset, localpartOf, LEGACY_MENTION_RULE_IDS, type DefaultRulesOptions } from './default-rules.js';
export {
  PUSH_RULE_KINDS,
  PushRuleError,
  checkActions,
  deleteRule,
  emptyUserPushRules,
  getRule,
  isPushRuleKind,
  mergeRuleset,
  putRule,
  setActions,
  setEnabled,
  type Placement,
  type PushAction,
  type PushCondition,
  type PushRule,
  type PushRuleKind,
  type Ruleset,
  type UserPushRules,
} from './ruleset.js';
export { PreparedEvent, evaluate, isSelfEvent, prepareEvent, type PushContext, type PushResult } from './evaluator.js';
