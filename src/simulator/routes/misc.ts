import { ApiError } from '../errors.ts';
import { WORKSPACE_ID } from '../model.ts';
import type { Router } from '../router.ts';
import { dataAttributeJson } from '../serializers.ts';
import { bodyObject, type ApiHandler } from './types.ts';

export function miscRoutes(r: Router<ApiHandler>): void {
  r.add('GET', '/me', ({ state }) => ({
    body: {
      type: 'admin',
      id: '991267459',
      email: 'sim-admin@example.com',
      name: 'Simulator Admin',
      email_verified: true,
      app: {
        type: 'app',
        id_code: WORKSPACE_ID,
        name: 'intercom-sync simulator',
        created_at: 1_700_000_000,
        secure: false,
        identity_verification: false,
        timezone: state.settings.timezone,
        region: 'US',
      },
      avatar: { type: 'avatar', image_url: null },
      has_inbox_seat: true,
    },
  }));

  r.add('GET', '/data_attributes', ({ state, query }) => {
    const model = query.get('model');
    if (model !== null && !['contact', 'company', 'conversation'].includes(model)) {
      throw new ApiError(400, 'parameter_invalid', 'model must be one of contact, company, conversation', 'model');
    }
    const attrs = state.attributes.list(model, query.get('include_archived') === 'true');
    return { body: { type: 'list', data: attrs.map(dataAttributeJson) } };
  });

  r.add('POST', '/data_attributes', ({ state, body }) => ({
    body: dataAttributeJson(state.attributes.create(bodyObject(body))),
  }));
}
