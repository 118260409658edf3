'use strict'

const neostandard = require('neostandard')

module.exports = [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', '.build/**', '.prof/**', 'node_modules/**', 'fixtures/as/**', 'coverage/**', '.tap/**']
  }),
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off'
    }
  }
]
