// Every non-2xx answer from the Intercom side uses one body shape (Intercom-OpenAPI descriptions/2.14, schema `error`).
export interface ErrorItem {
  code: string;
  message: string | null;
  field?: string;
}

export class ApiError extends Error {
  readonly errors: ErrorItem[];
  constructor(
    readonly status: number,
    code: string,
    message: string,
    field?: string,
  ) {
    super(message);
    this.errors = [field === undefined ? { code, message } : { code, message, field }];
  }
}

export function errorBody(requestId: string, errors: ErrorItem[]) {
  return { type: 'error.list', request_id: requestId, errors };
}

export const notFoundContact = () => new ApiError(404, 'not_found', 'User Not Found');
export const notFoundCompany = () => new ApiError(404, 'company_not_found', 'Company Not Found');
export const badRequest = (message: string) => new ApiError(400, 'bad_request', message);
export const invalidParam = (message: string, field?: string) =>
  new ApiError(400, 'parameter_invalid', message, field);
